//! The #[repr(C)] mirrors have the C layout: sizes, alignments and field
//! offsets asserted against values worked out from the header, and, where a C
//! compiler and the header are at hand, against the C compiler itself.
use core::mem::{align_of, offset_of, size_of};
use lightreasoner_sys::*;
use std::path::PathBuf;
use std::process::Command;

/// (name, size, align) and (name, offset) facts of the Rust mirrors, in the
/// order the C program below prints them.
fn rust_facts() -> Vec<(&'static str, usize)> {
    vec![
        ("sizeof(DLDevice)", size_of::<DLDevice>()),
        ("alignof(DLDevice)", align_of::<DLDevice>()),
        ("sizeof(DLDataType)", size_of::<DLDataType>()),
        ("alignof(DLDataType)", align_of::<DLDataType>()),
        ("sizeof(DLTensor)", size_of::<DLTensor>()),
        ("alignof(DLTensor)", align_of::<DLTensor>()),
        ("offsetof(DLTensor,device)", offset_of!(DLTensor, device)),
        ("offsetof(DLTensor,ndim)", offset_of!(DLTensor, ndim)),
        ("offsetof(DLTensor,dtype)", offset_of!(DLTensor, dtype)),
        ("offsetof(DLTensor,shape)", offset_of!(DLTensor, shape)),
        ("offsetof(DLTensor,strides)", offset_of!(DLTensor, strides)),
        ("offsetof(DLTensor,byte_offset)", offset_of!(DLTensor, byte_offset)),
        ("sizeof(lr_status)", size_of::<lr_status>()),
        ("sizeof(lr_reduction)", size_of::<lr_reduction>()),
        ("sizeof(lr_select_params)", size_of::<lr_select_params>()),
        ("alignof(lr_select_params)", align_of::<lr_select_params>()),
        (
            "offsetof(lr_select_params,kl_threshold)",
            offset_of!(lr_select_params, kl_threshold),
        ),
        (
            "offsetof(lr_select_params,temperature)",
            offset_of!(lr_select_params, temperature),
        ),
        (
            "offsetof(lr_select_params,shared_vocab)",
            offset_of!(lr_select_params, shared_vocab),
        ),
        ("sizeof(lr_target_params)", size_of::<lr_target_params>()),
        ("alignof(lr_target_params)", align_of::<lr_target_params>()),
        ("offsetof(lr_target_params,beta)", offset_of!(lr_target_params, beta)),
        (
            "offsetof(lr_target_params,temperature)",
            offset_of!(lr_target_params, temperature),
        ),
        (
            "offsetof(lr_target_params,shared_vocab)",
            offset_of!(lr_target_params, shared_vocab),
        ),
        ("sizeof(lr_loss_params)", size_of::<lr_loss_params>()),
        ("alignof(lr_loss_params)", align_of::<lr_loss_params>()),
        (
            "offsetof(lr_loss_params,reduction)",
            offset_of!(lr_loss_params, reduction),
        ),
        (
            "offsetof(lr_loss_params,grad_scale)",
            offset_of!(lr_loss_params, grad_scale),
        ),
        (
            "offsetof(lr_loss_params,temperature)",
            offset_of!(lr_loss_params, temperature),
        ),
        ("sizeof(lr_vocab_shard)", size_of::<lr_vocab_shard>()),
        ("alignof(lr_vocab_shard)", align_of::<lr_vocab_shard>()),
        (
            "offsetof(lr_vocab_shard,column_offset)",
            offset_of!(lr_vocab_shard, column_offset),
        ),
        (
            "offsetof(lr_vocab_shard,expert_vocab)",
            offset_of!(lr_vocab_shard, expert_vocab),
        ),
        (
            "offsetof(lr_vocab_shard,amateur_vocab)",
            offset_of!(lr_vocab_shard, amateur_vocab),
        ),
        ("LR_SHARD_SELECT_STATS", LR_SHARD_SELECT_STATS as usize),
        ("LR_SHARD_LOSS_STATS", LR_SHARD_LOSS_STATS as usize),
        ("LR_SHARD_CANDIDATES(8)", LR_SHARD_CANDIDATES(8) as usize),
        ("LR_ABI_VERSION_MINOR", LR_ABI_VERSION_MINOR as usize),
    ]
}

#[test]
fn layout_matches_the_header_on_lp64() {
    // Worked out from the header for x86-64 / aarch64 Linux (LP64, int = 4).
    let expected: &[usize] = &[
        8, 4, // DLDevice
        4, 2, // DLDataType
        48, 8, 8, 16, 20, 24, 32, 40, // DLTensor
        4, 4, // enums
        24, 8, 4, 8, 16, // lr_select_params: u32, f32, f32, 4 padding, i64
        24, 8, 4, 8, 16, // lr_target_params: likewise
        16, 4, 4, 8, 12, // lr_loss_params
        32, 8, 8, 16, 24, // lr_vocab_shard: u32, 4 padding, three i64
        6, 4, 25, // record widths
        1,  // the header's minor version
    ];
    if size_of::<usize>() != 8 {
        return; // the pointer-size facts above are for 64-bit targets
    }
    let facts = rust_facts();
    assert_eq!(facts.len(), expected.len());
    for ((name, got), want) in facts.iter().zip(expected) {
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn layout_matches_the_c_compiler() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..");
    let include = root.join("capi/include");
    if !include.join("lightreasoner/lightreasoner.h").exists() {
        eprintln!("skipped: the C header is not next to this crate");
        return;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let mut body = String::new();
    for (name, _) in rust_facts() {
        body.push_str(&format!("  printf(\"%zu\\n\", (size_t){name});\n"));
    }
    let program = format!(
        "#include <stddef.h>\n#include <stdio.h>\n#include <stdalign.h>\n\
         #include <lightreasoner/lightreasoner.h>\n\
         int main(void) {{\n{body}  return 0;\n}}\n"
    );
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("layout_check");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("layout.c");
    let exe = dir.join("layout");
    std::fs::write(&src, program).unwrap();
    let mut cmd = Command::new(&cc);
    cmd.arg("-std=c11").arg("-I").arg(&include);
    if let Ok(dl) = std::env::var("DLPACK_INCLUDE_DIR") {
        cmd.arg("-I").arg(dl);
    }
    let compiled = match cmd.arg(&src).arg("-o").arg(&exe).output() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("skipped: no C compiler ({cc}: {e})");
            return;
        }
    };
    if !compiled.status.success() {
        eprintln!(
            "skipped: could not compile the layout probe (no dlpack.h?):\n{}",
            String::from_utf8_lossy(&compiled.stderr)
        );
        return;
    }
    let out = Command::new(&exe).output().unwrap();
    assert!(out.status.success());
    let c_values: Vec<usize> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    let facts = rust_facts();
    assert_eq!(c_values.len(), facts.len());
    for ((name, rust), c) in facts.iter().zip(&c_values) {
        assert_eq!(rust, c, "{name}: Rust {rust}, C {c}");
    }
}

#[test]
fn defaults_and_version_come_from_the_library() {
    unsafe {
        let v = lr_abi_version();
        assert_eq!(v >> 16, LR_ABI_VERSION_MAJOR);
        let s = lr_select_params_default();
        assert_eq!(s.struct_size as usize, size_of::<lr_select_params>());
        assert_eq!((s.kl_threshold, s.temperature, s.shared_vocab), (0.4, 1.0, 0));
        let t = lr_target_params_default();
        assert_eq!(t.struct_size as usize, size_of::<lr_target_params>());
        assert_eq!((t.beta, t.temperature, t.shared_vocab), (0.2, 1.0, 0));
        let l = lr_loss_params_default();
        assert_eq!(l.struct_size as usize, size_of::<lr_loss_params>());
        assert_eq!(
            (l.reduction, l.grad_scale, l.temperature),
            (LR_REDUCTION_MEAN, 1.0, 1.0)
        );
        let name = core::ffi::CStr::from_ptr(lr_status_string(LR_ERR_INVALID_ARGUMENT));
        assert_eq!(name.to_str().unwrap(), "LR_ERR_INVALID_ARGUMENT");
        assert!(!lr_status_string(lr_status(99)).is_null());
        assert!(!lr_build_info().is_null());
    }
}

#[test]
fn sharded_calls_are_linked_and_check_their_shard() {
    // A null shard is an argument fault, named in the message: the 1.1
    // symbols resolve and the declarations reach the library's checks.
    unsafe {
        let s = lr_shard_select_stats(
            core::ptr::null(),
            core::ptr::null(),
            core::ptr::null(),
            core::ptr::null(),
            core::ptr::null_mut(),
            core::ptr::null_mut(),
        );
        assert_eq!(s, LR_ERR_INVALID_ARGUMENT);
        assert!((lr_abi_version() & 0xffff) >= LR_ABI_VERSION_MINOR);
    }
}

#[test]
fn init_writes_what_default_returns() {
    unsafe {
        let mut s = core::mem::zeroed::<lr_select_params>();
        assert_eq!(
            lr_select_params_init(&mut s, size_of::<lr_select_params>() as u32),
            LR_OK
        );
        assert_eq!(s, lr_select_params_default());
        let mut t = core::mem::zeroed::<lr_target_params>();
        assert_eq!(
            lr_target_params_init(&mut t, size_of::<lr_target_params>() as u32),
            LR_OK
        );
        assert_eq!(t, lr_target_params_default());
        let mut l = core::mem::zeroed::<lr_loss_params>();
        assert_eq!(lr_loss_params_init(&mut l, size_of::<lr_loss_params>() as u32), LR_OK);
        assert_eq!(l, lr_loss_params_default());
        assert_eq!(
            lr_select_params_init(core::ptr::null_mut(), 24),
            LR_ERR_INVALID_ARGUMENT
        );
    }
}
