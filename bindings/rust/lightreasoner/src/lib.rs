//! Safe Rust interface to liblightreasoner.
//!
//! LightReasoner turns the next-token logits of an expert and a weaker
//! amateur model into a sparse training signal in three steps:
//!
//! 1. [`select_steps`]: KL(p_E ‖ p_A) per row and the kappa-filter;
//! 2. [`build_targets`]: the contrastive soft target on the beta-mask
//!    ([`select_and_build`] does 1 and 2 in one pass);
//! 3. [`distill_loss_backward`]: KL(v ‖ softmax z) and its gradient with
//!    respect to the trained model's logits.
//!
//! Logits sharded over the vocabulary across tensor-parallel ranks (ABI
//! 1.1): [`sharded_select_and_build`] and [`sharded_distill_loss_backward`]
//! with the host's all-gather supplied as an [`AllGather`], or the partial
//! and finish steps ([`shard_select_stats`], ...) on their own.
//!
//! Inputs are borrowed row-major matrices ([`Logits`]) of `f32`, [`Bf16`] or
//! [`F16`], any row stride; outputs are owned `Vec`s. Every call returns
//! `Result<_, Error>`; the error carries the library's message, which names
//! the faulty argument. Faults in the *data* (NaN, +Inf, an all -Inf row) are
//! not errors: they show in that row's outputs (kl NaN, keep false,
//! support_size -1, loss NaN, gradient 0), as the C header documents.
//!
//! The safe functions run on the CPU (slices are host memory). Tensors on
//! other devices go through the `unsafe` functions of [`raw`], which take
//! DLPack tensors and a [`Stream`].
//!
//! ```no_run
//! use lightreasoner::*;
//!
//! # fn main() -> Result<(), Error> {
//! // Two positions, a 4-token vocabulary.
//! let expert = [4.0f32, 1.0, 0.0, 0.0, 2.0, 2.0, 0.0, 0.0];
//! let amateur = [0.0f32, 3.0, 0.0, 0.0, 2.0, 2.0, 0.0, 0.0];
//! let (e, a) = (Logits::new(&expert, 2, 4)?, Logits::new(&amateur, 2, 4)?);
//! let (sel, targets) = select_and_build(&e, &a, &SelectParams::default(), &TargetParams::default(), 2)?;
//! println!("KL {:?}, keep {:?}, row 0 targets {:?}", sel.kl, sel.keep, targets.row(0).ids);
//!
//! // Stage 2: the trained model's logits (here the expert's), gradient in place.
//! let mut z = expert;
//! let loss = distill_loss_backward_in_place(&mut LogitsMut::new(&mut z, 2, 4)?, &targets.view(), &LossParams::default())?;
//! println!("loss {:?}, d loss / d z[0][0] = {}", loss.reduced(), z[0]);
//! # Ok(())
//! # }
//! ```

mod half;
mod shard;

use std::ffi::{c_void, CStr};
use std::fmt;
use std::sync::OnceLock;

pub use half::{Bf16, F16};
pub use lightreasoner_sys as sys;
pub use shard::*;

use sys::{DLDataType, DLDevice, DLTensor};

// ------------------------------------------------------------------- errors

/// Why a call failed (the C `lr_status`, without `LR_OK`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// A null, shape, dtype, device, range or aliasing fault (also the
    /// status of the checks this crate makes before calling the library).
    InvalidArgument,
    /// A valid request this build cannot serve (e.g. CUDA tensors without
    /// CUDA, or a library with an incompatible ABI).
    Unsupported,
    OutOfMemory,
    /// A CUDA runtime error.
    Cuda,
    Internal,
    /// A status this crate does not know (a newer library).
    Unknown(i32),
}

impl Status {
    /// `None` for `LR_OK`.
    pub fn from_raw(s: sys::lr_status) -> Option<Status> {
        Some(match s.0 {
            0 => return None,
            1 => Status::InvalidArgument,
            2 => Status::Unsupported,
            3 => Status::OutOfMemory,
            4 => Status::Cuda,
            5 => Status::Internal,
            other => Status::Unknown(other),
        })
    }

    pub fn to_raw(self) -> sys::lr_status {
        sys::lr_status(match self {
            Status::InvalidArgument => 1,
            Status::Unsupported => 2,
            Status::OutOfMemory => 3,
            Status::Cuda => 4,
            Status::Internal => 5,
            Status::Unknown(n) => n,
        })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::InvalidArgument => f.write_str("LR_ERR_INVALID_ARGUMENT"),
            Status::Unsupported => f.write_str("LR_ERR_UNSUPPORTED"),
            Status::OutOfMemory => f.write_str("LR_ERR_OUT_OF_MEMORY"),
            Status::Cuda => f.write_str("LR_ERR_CUDA"),
            Status::Internal => f.write_str("LR_ERR_INTERNAL"),
            Status::Unknown(n) => write!(f, "lr_status {n}"),
        }
    }
}

/// A failed call: its status and the library's message (`lr_last_error()`),
/// or this crate's own message for checks made before calling the library.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub status: Status,
    pub message: String,
}

impl Error {
    fn new(status: Status, message: impl Into<String>) -> Error {
        Error {
            status,
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> Error {
        Error::new(Status::InvalidArgument, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl std::error::Error for Error {}

/// Turns a status into a Result, reading `lr_last_error()` on failure (it is
/// thread-local and valid until the next call on this thread).
fn check(status: sys::lr_status) -> Result<(), Error> {
    match Status::from_raw(status) {
        None => Ok(()),
        Some(s) => {
            let message = unsafe {
                let p = sys::lr_last_error();
                if p.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(p).to_string_lossy().into_owned()
                }
            };
            Err(Error::new(s, message))
        }
    }
}

// ---------------------------------------------------------------- versions

/// A `(major, minor)` ABI version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AbiVersion {
    pub major: u32,
    pub minor: u32,
}

impl AbiVersion {
    /// The version these bindings were written against.
    pub const BINDINGS: AbiVersion = AbiVersion {
        major: sys::LR_ABI_VERSION_MAJOR,
        minor: sys::LR_ABI_VERSION_MINOR,
    };

    /// From the library's packed `(major << 16) | minor`.
    pub fn from_packed(v: u32) -> AbiVersion {
        AbiVersion {
            major: v >> 16,
            minor: v & 0xffff,
        }
    }
}

impl fmt::Display for AbiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The ABI version of the library actually loaded.
pub fn abi_version() -> AbiVersion {
    AbiVersion::from_packed(unsafe { sys::lr_abi_version() })
}

/// Whether a library of ABI version `found` can serve these bindings: the
/// major versions must agree, and the library must be at least as new as
/// the header these bindings mirror (parameter fields are only appended).
pub fn check_abi_version(found: AbiVersion) -> Result<(), Error> {
    let ours = AbiVersion::BINDINGS;
    if found.major != ours.major || found.minor < ours.minor {
        return Err(Error::new(
            Status::Unsupported,
            format!(
                "ABI mismatch: the loaded liblightreasoner has ABI version {found}, but these \
                 Rust bindings were written for {ours} (the major versions must agree and the \
                 library must be {ours} or newer); install a matching library or bindings"
            ),
        ));
    }
    Ok(())
}

/// Checks the loaded library's ABI version once per process (every entry
/// point calls it first, so a mismatch is a clear error, never a misread
/// struct).
pub fn check_abi() -> Result<(), Error> {
    static RESULT: OnceLock<Result<(), Error>> = OnceLock::new();
    RESULT.get_or_init(|| check_abi_version(abi_version())).clone()
}

/// Human-readable build facts: library version, compiler, CUDA, CPU paths.
pub fn build_info() -> &'static str {
    unsafe {
        let p = sys::lr_build_info();
        if p.is_null() {
            ""
        } else {
            CStr::from_ptr(p).to_str().unwrap_or("")
        }
    }
}

// ----------------------------------------------------------------- streams

/// An opaque stream handle: a `cudaStream_t` for tensors on a CUDA device,
/// ignored for CPU tensors. The safe functions of this crate use
/// [`Stream::null`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stream(*mut c_void);

// A stream handle is an identifier; the library synchronises nothing through
// it that is tied to a thread.
unsafe impl Send for Stream {}
unsafe impl Sync for Stream {}

impl Stream {
    /// No stream (CPU calls, or CUDA's legacy default stream).
    pub const fn null() -> Stream {
        Stream(std::ptr::null_mut())
    }

    /// # Safety
    /// `raw` must be a valid `cudaStream_t` (or null) for as long as calls
    /// use it, on the device of the tensors passed with it.
    pub const unsafe fn from_raw(raw: *mut c_void) -> Stream {
        Stream(raw)
    }

    pub const fn as_raw(self) -> *mut c_void {
        self.0
    }

    pub fn is_null(self) -> bool {
        self.0.is_null()
    }
}

impl Default for Stream {
    fn default() -> Stream {
        Stream::null()
    }
}

// ------------------------------------------------------------ element types

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for super::Bf16 {}
    impl Sealed for super::F16 {}
    impl Sealed for i32 {}
    impl Sealed for i64 {}
    impl Sealed for u8 {}
    impl Sealed for f64 {}
}

/// A scalar type with a DLPack dtype.
pub trait DType: Copy + sealed::Sealed + 'static {
    const DTYPE: DLDataType;
}

/// The logit types the library reads: `f32`, [`Bf16`], [`F16`].
pub trait Element: DType {
    fn from_f32(x: f32) -> Self;
    fn to_f32(self) -> f32;
}

const fn dtype(code: u8, bits: u8) -> DLDataType {
    DLDataType { code, bits, lanes: 1 }
}

impl DType for f32 {
    const DTYPE: DLDataType = dtype(sys::kDLFloat, 32);
}
impl DType for Bf16 {
    const DTYPE: DLDataType = dtype(sys::kDLBfloat, 16);
}
impl DType for F16 {
    const DTYPE: DLDataType = dtype(sys::kDLFloat, 16);
}
impl DType for i32 {
    const DTYPE: DLDataType = dtype(sys::kDLInt, 32);
}
impl DType for i64 {
    const DTYPE: DLDataType = dtype(sys::kDLInt, 64);
}
impl DType for u8 {
    const DTYPE: DLDataType = dtype(sys::kDLUInt, 8);
}
impl DType for f64 {
    const DTYPE: DLDataType = dtype(sys::kDLFloat, 64);
}

impl Element for f32 {
    fn from_f32(x: f32) -> f32 {
        x
    }
    fn to_f32(self) -> f32 {
        self
    }
}
impl Element for Bf16 {
    fn from_f32(x: f32) -> Bf16 {
        Bf16::from_f32(x)
    }
    fn to_f32(self) -> f32 {
        Bf16::to_f32(self)
    }
}
impl Element for F16 {
    fn from_f32(x: f32) -> F16 {
        F16::from_f32(x)
    }
    fn to_f32(self) -> f32 {
        F16::to_f32(self)
    }
}

// ------------------------------------------------------------------- views

/// Elements a `rows x cols` view with this row stride spans, if representable.
fn span(rows: usize, cols: usize, row_stride: usize) -> Option<usize> {
    if rows == 0 {
        return Some(0);
    }
    (rows - 1).checked_mul(row_stride)?.checked_add(cols)
}

fn check_shape(len: usize, rows: usize, cols: usize, row_stride: usize, exact: bool) -> Result<(), Error> {
    if row_stride < cols {
        return Err(Error::invalid(format!(
            "logits view: row_stride {row_stride} is smaller than cols {cols}"
        )));
    }
    let need = span(rows, cols, row_stride)
        .filter(|&n| n <= isize::MAX as usize)
        .ok_or_else(|| Error::invalid(format!("logits view: {rows} x {cols} overflows")))?;
    if (exact && len != need) || len < need {
        return Err(Error::invalid(format!(
            "logits view: a slice of {len} elements does not hold {rows} rows x {cols} columns \
             with row stride {row_stride} ({need} elements {})",
            if exact { "expected" } else { "needed" }
        )));
    }
    Ok(())
}

/// A borrowed row-major `[rows, cols]` matrix of logits: row `i` is
/// `data[i * row_stride .. i * row_stride + cols]`. The elements between
/// rows (past `cols`) are never read.
#[derive(Debug)]
pub struct Logits<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    row_stride: usize,
}

impl<T> Clone for Logits<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Logits<'_, T> {}

impl<'a, T: Element> Logits<'a, T> {
    /// A compact matrix: `data.len()` must be exactly `rows * cols`.
    pub fn new(data: &'a [T], rows: usize, cols: usize) -> Result<Self, Error> {
        check_shape(data.len(), rows, cols, cols, true)?;
        Ok(Logits {
            data,
            rows,
            cols,
            row_stride: cols,
        })
    }

    /// A row-strided view, e.g. the first `cols` columns of a wider buffer:
    /// `row_stride >= cols` and `data` must hold `(rows - 1) * row_stride + cols`
    /// elements or more.
    pub fn with_row_stride(data: &'a [T], rows: usize, cols: usize, row_stride: usize) -> Result<Self, Error> {
        check_shape(data.len(), rows, cols, row_stride, false)?;
        Ok(Logits {
            data,
            rows,
            cols,
            row_stride,
        })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
    pub fn row_stride(&self) -> usize {
        self.row_stride
    }
    pub fn data(&self) -> &'a [T] {
        self.data
    }
    /// Row `i` (panics if `i >= rows`).
    pub fn row(&self, i: usize) -> &'a [T] {
        assert!(i < self.rows, "row {i} of {}", self.rows);
        &self.data[i * self.row_stride..i * self.row_stride + self.cols]
    }

    fn desc(&self) -> Desc {
        Desc::matrix(
            self.data.as_ptr() as *mut c_void,
            T::DTYPE,
            self.rows,
            self.cols,
            self.row_stride,
        )
    }
}

/// A mutably borrowed `[rows, cols]` matrix of logits, for
/// [`distill_loss_backward_in_place`], which writes the gradient over it.
#[derive(Debug)]
pub struct LogitsMut<'a, T> {
    data: &'a mut [T],
    rows: usize,
    cols: usize,
    row_stride: usize,
}

impl<'a, T: Element> LogitsMut<'a, T> {
    /// A compact matrix: `data.len()` must be exactly `rows * cols`.
    pub fn new(data: &'a mut [T], rows: usize, cols: usize) -> Result<Self, Error> {
        check_shape(data.len(), rows, cols, cols, true)?;
        Ok(LogitsMut {
            data,
            rows,
            cols,
            row_stride: cols,
        })
    }

    /// A row-strided view, as [`Logits::with_row_stride`].
    pub fn with_row_stride(data: &'a mut [T], rows: usize, cols: usize, row_stride: usize) -> Result<Self, Error> {
        check_shape(data.len(), rows, cols, row_stride, false)?;
        Ok(LogitsMut {
            data,
            rows,
            cols,
            row_stride,
        })
    }

    /// A shared view of the same matrix.
    pub fn as_logits(&self) -> Logits<'_, T> {
        Logits {
            data: self.data,
            rows: self.rows,
            cols: self.cols,
            row_stride: self.row_stride,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
    pub fn row_stride(&self) -> usize {
        self.row_stride
    }
    pub fn row(&self, i: usize) -> &[T] {
        assert!(i < self.rows, "row {i} of {}", self.rows);
        &self.data[i * self.row_stride..i * self.row_stride + self.cols]
    }
    pub fn row_mut(&mut self, i: usize) -> &mut [T] {
        assert!(i < self.rows, "row {i} of {}", self.rows);
        &mut self.data[i * self.row_stride..i * self.row_stride + self.cols]
    }

    fn desc(&mut self) -> Desc {
        Desc::matrix(
            self.data.as_mut_ptr() as *mut c_void,
            T::DTYPE,
            self.rows,
            self.cols,
            self.row_stride,
        )
    }
}

/// Borrowed sparse targets `[rows, k]`: token ids (-1 = padding) and weights
/// (0 where the id is -1), as [`build_targets`] writes them.
#[derive(Clone, Copy, Debug)]
pub struct TargetsView<'a> {
    ids: &'a [i32],
    weights: &'a [f32],
    k: usize,
}

impl<'a> TargetsView<'a> {
    /// `ids` and `weights` are `[rows, k]` row-major, of the same length, a
    /// multiple of `k >= 1`.
    pub fn new(ids: &'a [i32], weights: &'a [f32], k: usize) -> Result<Self, Error> {
        if k == 0 {
            return Err(Error::invalid("targets: k must be at least 1"));
        }
        if ids.len() != weights.len() || ids.len() % k != 0 {
            return Err(Error::invalid(format!(
                "targets: ids ({} elements) and weights ({} elements) must both be [rows, k = {k}]",
                ids.len(),
                weights.len()
            )));
        }
        Ok(TargetsView { ids, weights, k })
    }

    pub fn rows(&self) -> usize {
        self.ids.len() / self.k
    }
    pub fn k(&self) -> usize {
        self.k
    }
    pub fn ids(&self) -> &'a [i32] {
        self.ids
    }
    pub fn weights(&self) -> &'a [f32] {
        self.weights
    }
}

// -------------------------------------------------------------- parameters
//
// `Default` of each parameter struct is the library's defaults, read from the
// loaded library when called (the header documents them: kappa 0.4, beta 0.2,
// temperature 1, shared_vocab 0 = min(Ve, Va), MEAN, grad_scale 1); none is
// restated here.

/// The library's defaults for one parameter struct, through its
/// `lr_*_params_init` with this crate's struct size. Not `_default()`: a newer
/// 1.x library returns its own, larger struct by value, which would not fit
/// ours. Only for the `sys::lr_*_params` structs, for which all-zero bytes are
/// a valid value.
fn library_defaults<P>(init: unsafe extern "C" fn(*mut P, u32) -> sys::lr_status) -> P {
    let mut p = std::mem::MaybeUninit::<P>::zeroed();
    // SAFETY: init writes at most size_of::<P>() bytes into p.
    let status = unsafe { init(p.as_mut_ptr(), std::mem::size_of::<P>() as u32) };
    if let Err(e) = check(status) {
        panic!("liblightreasoner refused to give its default parameters: {e}");
    }
    // SAFETY: P is a plain C struct, valid from zeroed bytes and init's writes.
    unsafe { p.assume_init() }
}

/// A default `shared_vocab` as this crate's `usize` (the library's is 0).
fn default_shared_vocab(raw: i64) -> usize {
    usize::try_from(raw).expect("liblightreasoner's default shared_vocab is not negative")
}

/// Parameters of [`select_steps`]; `Default` is the library's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SelectParams {
    /// kappa: keep a row iff KL > kappa. Not NaN. Default: the library's (0.4).
    pub kl_threshold: f32,
    /// Logits are divided by it before the softmax; > 0, finite. Default:
    /// the library's (1).
    pub temperature: f32,
    /// Leading ids the two models share; 0 = min(Ve, Va). Default: the
    /// library's (0).
    pub shared_vocab: usize,
}

impl Default for SelectParams {
    /// The loaded library's defaults (`lr_select_params_init`).
    fn default() -> Self {
        let raw = library_defaults(sys::lr_select_params_init);
        SelectParams {
            kl_threshold: raw.kl_threshold,
            temperature: raw.temperature,
            shared_vocab: default_shared_vocab(raw.shared_vocab),
        }
    }
}

impl SelectParams {
    pub fn kl_threshold(mut self, kappa: f32) -> Self {
        self.kl_threshold = kappa;
        self
    }
    pub fn temperature(mut self, t: f32) -> Self {
        self.temperature = t;
        self
    }
    pub fn shared_vocab(mut self, s: usize) -> Self {
        self.shared_vocab = s;
        self
    }
    pub fn to_raw(&self) -> sys::lr_select_params {
        sys::lr_select_params {
            struct_size: std::mem::size_of::<sys::lr_select_params>() as u32,
            kl_threshold: self.kl_threshold,
            temperature: self.temperature,
            shared_vocab: self.shared_vocab as i64,
        }
    }
}

/// Parameters of [`build_targets`]; `Default` is the library's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TargetParams {
    /// Support M = {a : p_E(a) >= beta * max p_E}; in (0, 1]. Default: the
    /// library's (0.2).
    pub beta: f32,
    /// As in [`SelectParams`]. Default: the library's (1).
    pub temperature: f32,
    /// As in [`SelectParams`]. Default: the library's (0 = min(Ve, Va)).
    pub shared_vocab: usize,
}

impl Default for TargetParams {
    /// The loaded library's defaults (`lr_target_params_init`).
    fn default() -> Self {
        let raw = library_defaults(sys::lr_target_params_init);
        TargetParams {
            beta: raw.beta,
            temperature: raw.temperature,
            shared_vocab: default_shared_vocab(raw.shared_vocab),
        }
    }
}

impl TargetParams {
    pub fn beta(mut self, beta: f32) -> Self {
        self.beta = beta;
        self
    }
    pub fn temperature(mut self, t: f32) -> Self {
        self.temperature = t;
        self
    }
    pub fn shared_vocab(mut self, s: usize) -> Self {
        self.shared_vocab = s;
        self
    }
    pub fn to_raw(&self) -> sys::lr_target_params {
        sys::lr_target_params {
            struct_size: std::mem::size_of::<sys::lr_target_params>() as u32,
            beta: self.beta,
            temperature: self.temperature,
            shared_vocab: self.shared_vocab as i64,
        }
    }
}

/// How [`distill_loss_backward`] reduces the per-row losses. `Default` is the
/// library's default reduction (`Mean`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reduction {
    /// One loss per row.
    None,
    /// The sum over rows.
    Sum,
    /// The sum over counted rows (rows with a target) divided by their
    /// number; gradients divided likewise.
    Mean,
}

impl Reduction {
    fn from_raw(r: sys::lr_reduction) -> Option<Reduction> {
        match r {
            sys::LR_REDUCTION_NONE => Some(Reduction::None),
            sys::LR_REDUCTION_SUM => Some(Reduction::Sum),
            sys::LR_REDUCTION_MEAN => Some(Reduction::Mean),
            _ => Option::None,
        }
    }
    fn to_raw(self) -> sys::lr_reduction {
        match self {
            Reduction::None => sys::LR_REDUCTION_NONE,
            Reduction::Sum => sys::LR_REDUCTION_SUM,
            Reduction::Mean => sys::LR_REDUCTION_MEAN,
        }
    }
}

impl Default for Reduction {
    /// The loaded library's default reduction.
    fn default() -> Self {
        LossParams::default().reduction
    }
}

/// Parameters of [`distill_loss_backward`]; `Default` is the library's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossParams {
    /// Default: the library's ([`Reduction::Mean`]).
    pub reduction: Reduction,
    /// Multiplies the gradient (not the loss); finite. Default: the library's (1).
    pub grad_scale: f32,
    /// The model's logits are divided by it; > 0, finite. Default: the
    /// library's (1).
    pub temperature: f32,
}

impl Default for LossParams {
    /// The loaded library's defaults (`lr_loss_params_init`).
    fn default() -> Self {
        let raw = library_defaults(sys::lr_loss_params_init);
        LossParams {
            reduction: Reduction::from_raw(raw.reduction)
                .expect("liblightreasoner's default reduction is one this crate knows"),
            grad_scale: raw.grad_scale,
            temperature: raw.temperature,
        }
    }
}

impl LossParams {
    pub fn reduction(mut self, r: Reduction) -> Self {
        self.reduction = r;
        self
    }
    pub fn grad_scale(mut self, s: f32) -> Self {
        self.grad_scale = s;
        self
    }
    pub fn temperature(mut self, t: f32) -> Self {
        self.temperature = t;
        self
    }
    pub fn to_raw(&self) -> sys::lr_loss_params {
        sys::lr_loss_params {
            struct_size: std::mem::size_of::<sys::lr_loss_params>() as u32,
            reduction: self.reduction.to_raw(),
            grad_scale: self.grad_scale,
            temperature: self.temperature,
        }
    }
}

// ----------------------------------------------------------------- outputs

/// What [`select_steps`] returns: KL(p_E ‖ p_A) per row (NaN for a data
/// fault) and whether the row passed the kappa-filter.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    pub kl: Vec<f32>,
    pub keep: Vec<bool>,
}

impl Selection {
    /// The indices of the kept rows, ascending.
    pub fn kept_rows(&self) -> Vec<usize> {
        self.keep
            .iter()
            .enumerate()
            .filter(|(_, &k)| k)
            .map(|(i, _)| i)
            .collect()
    }
}

/// Sparse contrastive targets `[rows, k]`, row-major: ids in descending
/// weight order, -1 = padding (weight 0); `support_size[i]` is |M| before
/// truncation to `k` (-1 for a data fault, 0 for a row
/// [`select_and_build`] did not keep).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Targets {
    pub ids: Vec<i32>,
    pub weights: Vec<f32>,
    pub support_size: Vec<i32>,
    pub k: usize,
}

/// One row of [`Targets`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TargetRow<'a> {
    pub ids: &'a [i32],
    pub weights: &'a [f32],
    pub support_size: i32,
}

impl TargetRow<'_> {
    /// Whether the support was larger than k (the weights were renormalised
    /// over the k tokens of largest p_E).
    pub fn is_truncated(&self) -> bool {
        self.support_size > self.ids.len() as i32
    }
    /// The (id, weight) pairs that are not padding.
    pub fn entries(&self) -> impl Iterator<Item = (i32, f32)> + '_ {
        self.ids
            .iter()
            .zip(self.weights)
            .filter(|(&id, _)| id >= 0)
            .map(|(&id, &w)| (id, w))
    }
}

impl Targets {
    pub fn rows(&self) -> usize {
        self.support_size.len()
    }
    /// Row `i` (panics if `i >= rows()`).
    pub fn row(&self, i: usize) -> TargetRow<'_> {
        let r = i * self.k..(i + 1) * self.k;
        TargetRow {
            ids: &self.ids[r.clone()],
            weights: &self.weights[r],
            support_size: self.support_size[i],
        }
    }
    /// The targets as the input of [`distill_loss_backward`].
    pub fn view(&self) -> TargetsView<'_> {
        TargetsView {
            ids: &self.ids,
            weights: &self.weights,
            k: self.k,
        }
    }
}

/// The loss: one value per row ([`Reduction::None`]) or the reduced value.
#[derive(Clone, Debug, PartialEq)]
pub enum Loss {
    PerRow(Vec<f32>),
    Reduced(f32),
}

impl Loss {
    pub fn reduced(&self) -> Option<f32> {
        match self {
            Loss::Reduced(x) => Some(*x),
            Loss::PerRow(_) => None,
        }
    }
    pub fn per_row(&self) -> Option<&[f32]> {
        match self {
            Loss::PerRow(v) => Some(v),
            Loss::Reduced(_) => None,
        }
    }
}

/// The loss and, when asked for, the gradient `[rows, cols]` (compact
/// row-major, the logits' element type).
#[derive(Clone, Debug, PartialEq)]
pub struct LossOutput<T> {
    pub loss: Loss,
    pub grad: Option<Vec<T>>,
}

// ------------------------------------------------------- DLPack descriptors

/// The storage a DLTensor points at for its shape and strides. Make the
/// DLTensor with [`Desc::tensor`] only once the Desc is in its final place.
struct Desc {
    data: *mut c_void,
    dtype: DLDataType,
    ndim: i32,
    shape: [i64; 3],
    strides: [i64; 3],
    strided: bool,
}

impl Desc {
    fn matrix(data: *mut c_void, dtype: DLDataType, rows: usize, cols: usize, row_stride: usize) -> Desc {
        Desc {
            data,
            dtype,
            ndim: 2,
            shape: [rows as i64, cols as i64, 0],
            strides: [row_stride as i64, 1, 0],
            strided: true,
        }
    }

    fn vector<T: DType>(data: *mut T, n: usize) -> Desc {
        Desc {
            data: data as *mut c_void,
            dtype: T::DTYPE,
            ndim: 1,
            shape: [n as i64, 0, 0],
            strides: [1, 0, 0],
            strided: false,
        }
    }

    fn compact<T: DType>(data: *mut T, rows: usize, cols: usize) -> Desc {
        Desc::matrix(data as *mut c_void, T::DTYPE, rows, cols, cols)
    }

    /// A compact `[shards, rows, width]` block (gathered records).
    fn stacked<T: DType>(data: *mut T, shards: usize, rows: usize, width: usize) -> Desc {
        Desc {
            data: data as *mut c_void,
            dtype: T::DTYPE,
            ndim: 3,
            shape: [shards as i64, rows as i64, width as i64],
            strides: [0; 3],
            strided: false,
        }
    }

    fn tensor(&mut self) -> DLTensor {
        DLTensor {
            data: self.data,
            device: DLDevice {
                device_type: sys::kDLCPU,
                device_id: 0,
            },
            ndim: self.ndim,
            dtype: self.dtype,
            shape: self.shape.as_mut_ptr(),
            strides: if self.strided {
                self.strides.as_mut_ptr()
            } else {
                std::ptr::null_mut()
            },
            byte_offset: 0,
        }
    }
}

// --------------------------------------------------------- the safe calls

/// The size of a `[rows, k]` target buffer, or an error if it overflows.
fn target_cells(rows: usize, k: usize) -> Result<usize, Error> {
    rows.checked_mul(k)
        .filter(|&n| n <= isize::MAX as usize / 4)
        .ok_or_else(|| Error::invalid(format!("k: [{rows}, {k}] targets are too large")))
}

/// KL(p_E ‖ p_A) per row over the shared ids, and the kappa-filter.
///
/// `expert` is `[N, Ve]`, `amateur` `[N, Va]`, each of any [`Element`] type.
pub fn select_steps<E: Element, A: Element>(
    expert: &Logits<'_, E>,
    amateur: &Logits<'_, A>,
    params: &SelectParams,
) -> Result<Selection, Error> {
    check_abi()?;
    let n = expert.rows;
    let mut kl = vec![0f32; n];
    let mut keep = vec![0u8; n];
    let (mut e, mut a) = (expert.desc(), amateur.desc());
    let (mut kl_d, mut keep_d) = (Desc::vector(kl.as_mut_ptr(), n), Desc::vector(keep.as_mut_ptr(), n));
    let (mut kl_t, mut keep_t) = (kl_d.tensor(), keep_d.tensor());
    unsafe {
        raw::select_steps(
            &e.tensor(),
            &a.tensor(),
            Some(params),
            &mut kl_t,
            Some(&mut keep_t),
            Stream::null(),
        )?;
    }
    Ok(Selection {
        kl,
        keep: keep.into_iter().map(|b| b != 0).collect(),
    })
}

/// The contrastive soft targets of `rows` (indices into the logits, any
/// order, repeats allowed; `None` = all rows), at most `k` tokens each.
pub fn build_targets<E: Element, A: Element>(
    expert: &Logits<'_, E>,
    amateur: &Logits<'_, A>,
    rows: Option<&[usize]>,
    k: usize,
    params: &TargetParams,
) -> Result<Targets, Error> {
    check_abi()?;
    let mut row_ids: Option<Vec<i64>> = rows.map(|r| r.iter().map(|&i| i as i64).collect());
    let m = rows.map_or(expert.rows, |r| r.len());
    let cells = target_cells(m, k)?;
    let mut ids = vec![-1i32; cells];
    let mut weights = vec![0f32; cells];
    let mut support = vec![0i32; m];
    let (mut e, mut a) = (expert.desc(), amateur.desc());
    let mut rows_d = row_ids.as_mut().map(|r| Desc::vector(r.as_mut_ptr(), r.len()));
    let mut ids_d = Desc::compact(ids.as_mut_ptr(), m, k);
    let mut w_d = Desc::compact(weights.as_mut_ptr(), m, k);
    let mut s_d = Desc::vector(support.as_mut_ptr(), m);
    let rows_t = rows_d.as_mut().map(|d| d.tensor());
    unsafe {
        raw::build_targets(
            &e.tensor(),
            &a.tensor(),
            rows_t.as_ref(),
            Some(params),
            &mut ids_d.tensor(),
            &mut w_d.tensor(),
            &mut s_d.tensor(),
            Stream::null(),
        )?;
    }
    Ok(Targets {
        ids,
        weights,
        support_size: support,
        k,
    })
}

/// [`select_steps`] and [`build_targets`] on the kept rows in one pass over
/// the logits. The targets have all N rows; rows not kept are padding with
/// support size 0. The two parameter sets must agree on temperature and
/// shared_vocab.
pub fn select_and_build<E: Element, A: Element>(
    expert: &Logits<'_, E>,
    amateur: &Logits<'_, A>,
    select: &SelectParams,
    target: &TargetParams,
    k: usize,
) -> Result<(Selection, Targets), Error> {
    check_abi()?;
    let n = expert.rows;
    let mut kl = vec![0f32; n];
    let mut keep = vec![0u8; n];
    let cells = target_cells(n, k)?;
    let mut ids = vec![-1i32; cells];
    let mut weights = vec![0f32; cells];
    let mut support = vec![0i32; n];
    let (mut e, mut a) = (expert.desc(), amateur.desc());
    let mut kl_d = Desc::vector(kl.as_mut_ptr(), n);
    let mut keep_d = Desc::vector(keep.as_mut_ptr(), n);
    let mut ids_d = Desc::compact(ids.as_mut_ptr(), n, k);
    let mut w_d = Desc::compact(weights.as_mut_ptr(), n, k);
    let mut s_d = Desc::vector(support.as_mut_ptr(), n);
    unsafe {
        raw::select_and_build(
            &e.tensor(),
            &a.tensor(),
            Some(select),
            Some(target),
            &mut kl_d.tensor(),
            &mut keep_d.tensor(),
            &mut ids_d.tensor(),
            &mut w_d.tensor(),
            &mut s_d.tensor(),
            Stream::null(),
        )?;
    }
    Ok((
        Selection {
            kl,
            keep: keep.into_iter().map(|b| b != 0).collect(),
        },
        Targets {
            ids,
            weights,
            support_size: support,
            k,
        },
    ))
}

fn loss_buffer(params: &LossParams, rows: usize) -> Vec<f32> {
    vec![0f32; if params.reduction == Reduction::None { rows } else { 1 }]
}

fn into_loss(params: &LossParams, buf: Vec<f32>) -> Loss {
    if params.reduction == Reduction::None {
        Loss::PerRow(buf)
    } else {
        Loss::Reduced(buf[0])
    }
}

/// Pointers to the tensors of one loss call, valid while `invoke` runs.
struct LossTensors {
    logits: *const DLTensor,
    ids: *const DLTensor,
    weights: *const DLTensor,
    params: *const sys::lr_loss_params,
    loss: *mut DLTensor,
    grad: *mut DLTensor,
}

/// Shared body of the loss calls (1.0 and sharded); `grad` is None,
/// Some(desc), or the logits themselves (`in_place`); `invoke` makes the C call.
fn loss_call(
    logits: &mut Desc,
    targets: &TargetsView<'_>,
    params: &LossParams,
    rows: usize,
    grad: Option<&mut Desc>,
    in_place: bool,
    invoke: impl FnOnce(&LossTensors) -> sys::lr_status,
) -> Result<Loss, Error> {
    check_abi()?;
    let mut loss = loss_buffer(params, rows);
    let mut ids = Desc::compact(targets.ids.as_ptr() as *mut i32, targets.rows(), targets.k);
    let mut w = Desc::compact(targets.weights.as_ptr() as *mut f32, targets.rows(), targets.k);
    let mut loss_d = Desc::vector(loss.as_mut_ptr(), loss.len());
    let mut logits_t = logits.tensor();
    let mut grad_t = grad.map(|g| g.tensor());
    let grad_ptr: *mut DLTensor = if in_place {
        &mut logits_t
    } else {
        grad_t.as_mut().map_or(std::ptr::null_mut(), |g| g as *mut DLTensor)
    };
    let params_raw = params.to_raw();
    let (ids_t, w_t, mut loss_t) = (ids.tensor(), w.tensor(), loss_d.tensor());
    check(invoke(&LossTensors {
        logits: &logits_t,
        ids: &ids_t,
        weights: &w_t,
        params: &params_raw,
        loss: &mut loss_t,
        grad: grad_ptr,
    }))?;
    Ok(into_loss(params, loss))
}

/// `lr_distill_loss_backward` on the tensors of [`loss_call`].
fn unsharded_loss(t: &LossTensors) -> sys::lr_status {
    // SAFETY: loss_call made every pointer from live buffers of the right shape.
    unsafe {
        sys::lr_distill_loss_backward(
            t.logits,
            t.ids,
            t.weights,
            t.params,
            t.loss,
            t.grad,
            std::ptr::null_mut(),
        )
    }
}

/// The distillation loss KL(v ‖ softmax(z / T)) without the gradient.
pub fn distill_loss<T: Element>(
    logits: &Logits<'_, T>,
    targets: &TargetsView<'_>,
    params: &LossParams,
) -> Result<Loss, Error> {
    loss_call(
        &mut logits.desc(),
        targets,
        params,
        logits.rows,
        None,
        false,
        unsharded_loss,
    )
}

/// The distillation loss and its gradient with respect to the logits, as a
/// new compact `[rows, cols]` buffer.
pub fn distill_loss_backward<T: Element>(
    logits: &Logits<'_, T>,
    targets: &TargetsView<'_>,
    params: &LossParams,
) -> Result<LossOutput<T>, Error> {
    let mut grad = vec![T::from_f32(0.0); logits.rows * logits.cols];
    let loss = distill_loss_backward_into(logits, targets, params, &mut grad)?;
    Ok(LossOutput { loss, grad: Some(grad) })
}

/// The distillation loss, writing the gradient into `grad`, a compact
/// `[rows, cols]` buffer (its length must be `rows * cols`).
pub fn distill_loss_backward_into<T: Element>(
    logits: &Logits<'_, T>,
    targets: &TargetsView<'_>,
    params: &LossParams,
    grad: &mut [T],
) -> Result<Loss, Error> {
    let (rows, cols) = (logits.rows, logits.cols);
    if grad.len() != rows * cols {
        return Err(Error::invalid(format!(
            "grad: a slice of {} elements is not [{rows}, {cols}] ({} elements)",
            grad.len(),
            rows * cols
        )));
    }
    let mut g = Desc::compact(grad.as_mut_ptr(), rows, cols);
    loss_call(
        &mut logits.desc(),
        targets,
        params,
        rows,
        Some(&mut g),
        false,
        unsharded_loss,
    )
}

/// The distillation loss, writing the gradient over the logits themselves
/// (no extra `[rows, cols]` buffer). On error the logits are unchanged.
pub fn distill_loss_backward_in_place<T: Element>(
    logits: &mut LogitsMut<'_, T>,
    targets: &TargetsView<'_>,
    params: &LossParams,
) -> Result<Loss, Error> {
    let rows = logits.rows;
    loss_call(&mut logits.desc(), targets, params, rows, None, true, unsharded_loss)
}

// ------------------------------------------------------------- DLPack level

/// The calls on caller-made DLPack tensors, on any device, with a stream:
/// thin `unsafe` wrappers that add the ABI check and turn the status into a
/// `Result`. Shapes and dtypes are those of the C header.
pub mod raw {
    use super::*;

    /// `lr_select_steps`. `params` None = the library's defaults.
    ///
    /// # Safety
    /// Every tensor must describe memory valid for its shape, strides and
    /// dtype on its device, outputs writable and not aliasing inputs, for the
    /// duration of the call (and, on CUDA, until the stream's work is done).
    pub unsafe fn select_steps(
        expert: &DLTensor,
        amateur: &DLTensor,
        params: Option<&SelectParams>,
        kl_out: &mut DLTensor,
        keep_out: Option<&mut DLTensor>,
        stream: Stream,
    ) -> Result<(), Error> {
        check_abi()?;
        let p = params.map(|p| p.to_raw());
        check(sys::lr_select_steps(
            expert,
            amateur,
            p.as_ref().map_or(std::ptr::null(), |p| p as *const _),
            kl_out,
            keep_out.map_or(std::ptr::null_mut(), |t| t as *mut _),
            stream.as_raw(),
        ))
    }

    /// `lr_build_targets`. `rows` None = all rows.
    ///
    /// # Safety
    /// As [`select_steps`].
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn build_targets(
        expert: &DLTensor,
        amateur: &DLTensor,
        rows: Option<&DLTensor>,
        params: Option<&TargetParams>,
        target_ids: &mut DLTensor,
        target_weights: &mut DLTensor,
        support_size: &mut DLTensor,
        stream: Stream,
    ) -> Result<(), Error> {
        check_abi()?;
        let p = params.map(|p| p.to_raw());
        check(sys::lr_build_targets(
            expert,
            amateur,
            rows.map_or(std::ptr::null(), |t| t as *const _),
            p.as_ref().map_or(std::ptr::null(), |p| p as *const _),
            target_ids,
            target_weights,
            support_size,
            stream.as_raw(),
        ))
    }

    /// `lr_select_and_build`.
    ///
    /// # Safety
    /// As [`select_steps`].
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn select_and_build(
        expert: &DLTensor,
        amateur: &DLTensor,
        select_params: Option<&SelectParams>,
        target_params: Option<&TargetParams>,
        kl_out: &mut DLTensor,
        keep_out: &mut DLTensor,
        target_ids: &mut DLTensor,
        target_weights: &mut DLTensor,
        support_size: &mut DLTensor,
        stream: Stream,
    ) -> Result<(), Error> {
        check_abi()?;
        let sp = select_params.map(|p| p.to_raw());
        let tp = target_params.map(|p| p.to_raw());
        check(sys::lr_select_and_build(
            expert,
            amateur,
            sp.as_ref().map_or(std::ptr::null(), |p| p as *const _),
            tp.as_ref().map_or(std::ptr::null(), |p| p as *const _),
            kl_out,
            keep_out,
            target_ids,
            target_weights,
            support_size,
            stream.as_raw(),
        ))
    }

    /// `lr_distill_loss_backward`. `grad_logits` None = no gradient; to
    /// write it over the logits, call `sys::lr_distill_loss_backward` with
    /// the same pointer for both (Rust references cannot alias).
    ///
    /// # Safety
    /// As [`select_steps`].
    pub unsafe fn distill_loss_backward(
        logits: &DLTensor,
        target_ids: &DLTensor,
        target_weights: &DLTensor,
        params: Option<&LossParams>,
        loss_out: &mut DLTensor,
        grad_logits: Option<&mut DLTensor>,
        stream: Stream,
    ) -> Result<(), Error> {
        check_abi()?;
        let p = params.map(|p| p.to_raw());
        check(sys::lr_distill_loss_backward(
            logits,
            target_ids,
            target_weights,
            p.as_ref().map_or(std::ptr::null(), |p| p as *const _),
            loss_out,
            grad_logits.map_or(std::ptr::null_mut(), |t| t as *mut _),
            stream.as_raw(),
        ))
    }
}
