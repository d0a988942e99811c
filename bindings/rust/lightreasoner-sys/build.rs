//! Links liblightreasoner. Where the library is looked for, in order:
//!   1. LIGHTREASONER_LIB_DIR (a folder holding liblightreasoner.so);
//!   2. `pkg-config --libs-only-L lightreasoner` (the installed .pc file);
//!   3. the linker's default search path.
//!
//! When a folder is known it is also exported to dependent build scripts as
//! DEP_LIGHTREASONER_LIB_DIR, and this crate's own tests get an rpath to it.
use std::env;
use std::path::PathBuf;
use std::process::Command;

fn pkg_config_lib_dirs() -> Vec<PathBuf> {
    let pkg_config = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_string());
    let out = match Command::new(pkg_config)
        .args(["--libs-only-L", "lightreasoner"])
        .output()
    {
        Ok(out) if out.status.success() => out,
        _ => return Vec::new(),
    };
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|flag| flag.strip_prefix("-L"))
        .map(PathBuf::from)
        .collect()
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for var in [
        "LIGHTREASONER_LIB_DIR",
        "PKG_CONFIG",
        "PKG_CONFIG_PATH",
        "PKG_CONFIG_LIBDIR",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }

    let dirs: Vec<PathBuf> = match env::var_os("LIGHTREASONER_LIB_DIR") {
        Some(dir) if !dir.is_empty() => vec![PathBuf::from(dir)],
        _ => pkg_config_lib_dirs(),
    };
    let rpath_ok = env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os != "windows");
    for dir in &dirs {
        println!("cargo:rustc-link-search=native={}", dir.display());
        // Tests, examples and binaries of this package find the library
        // without LD_LIBRARY_PATH; dependents read DEP_LIGHTREASONER_LIB_DIR.
        if rpath_ok {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
        }
    }
    if let Some(first) = dirs.first() {
        println!("cargo:lib_dir={}", first.display());
    }
    println!("cargo:rustc-link-lib=dylib=lightreasoner");
}
