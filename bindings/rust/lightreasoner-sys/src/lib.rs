//! Raw FFI declarations of liblightreasoner's C ABI, mirroring
//! `capi/include/lightreasoner/lightreasoner.h` (ABI version 1.1) and the
//! DLPack 0.6 structs it takes. Every function here is `unsafe`; the
//! `lightreasoner` crate is the safe interface. The header documents every
//! call; the comments here only summarise.
#![allow(non_camel_case_types, non_upper_case_globals)]
#![no_std]

use core::ffi::{c_char, c_int, c_void};

/// The ABI version this crate was written against (the header's macros).
pub const LR_ABI_VERSION_MAJOR: u32 = 1;
pub const LR_ABI_VERSION_MINOR: u32 = 1;

// ------------------------------------------------------------------ DLPack

/// `DLDeviceType` values (DLPack 0.6).
pub const kDLCPU: i32 = 1;
pub const kDLCUDA: i32 = 2;
pub const kDLCUDAHost: i32 = 3;
pub const kDLCUDAManaged: i32 = 13;

/// `DLDataTypeCode` values (DLPack 0.6).
pub const kDLInt: u8 = 0;
pub const kDLUInt: u8 = 1;
pub const kDLFloat: u8 = 2;
pub const kDLBfloat: u8 = 4;

/// `DLDevice`: the device type (a C enum, hence `i32`) and its ordinal.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DLDevice {
    pub device_type: i32,
    pub device_id: i32,
}

/// `DLDataType`: type code, bits per lane, lanes (1 for scalars).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DLDataType {
    pub code: u8,
    pub bits: u8,
    pub lanes: u16,
}

/// `DLTensor` (DLPack 0.6). `strides == NULL` means compact row-major;
/// shape and strides count elements, byte_offset counts bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DLTensor {
    pub data: *mut c_void,
    pub device: DLDevice,
    pub ndim: i32,
    pub dtype: DLDataType,
    pub shape: *mut i64,
    pub strides: *mut i64,
    pub byte_offset: u64,
}

// ------------------------------------------------------------------ status

/// `lr_status`. A transparent `int` rather than a Rust enum: a newer library
/// may return values this crate does not know, which must not be UB.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct lr_status(pub c_int);

impl lr_status {
    pub const LR_OK: lr_status = lr_status(0);
    /// A null, shape, dtype, device, range or aliasing fault.
    pub const LR_ERR_INVALID_ARGUMENT: lr_status = lr_status(1);
    /// A valid request this build cannot serve (e.g. CUDA tensors without CUDA).
    pub const LR_ERR_UNSUPPORTED: lr_status = lr_status(2);
    pub const LR_ERR_OUT_OF_MEMORY: lr_status = lr_status(3);
    /// A CUDA runtime error; `lr_last_error()` has its text.
    pub const LR_ERR_CUDA: lr_status = lr_status(4);
    pub const LR_ERR_INTERNAL: lr_status = lr_status(5);
}

pub const LR_OK: lr_status = lr_status::LR_OK;
pub const LR_ERR_INVALID_ARGUMENT: lr_status = lr_status::LR_ERR_INVALID_ARGUMENT;
pub const LR_ERR_UNSUPPORTED: lr_status = lr_status::LR_ERR_UNSUPPORTED;
pub const LR_ERR_OUT_OF_MEMORY: lr_status = lr_status::LR_ERR_OUT_OF_MEMORY;
pub const LR_ERR_CUDA: lr_status = lr_status::LR_ERR_CUDA;
pub const LR_ERR_INTERNAL: lr_status = lr_status::LR_ERR_INTERNAL;

/// `lr_status` under the name the Rust API guidelines would give it.
pub type LrStatus = lr_status;

/// `lr_reduction`, a C enum passed by value inside `lr_loss_params`.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct lr_reduction(pub c_int);

impl lr_reduction {
    /// loss_out is [N]: one loss per row.
    pub const LR_REDUCTION_NONE: lr_reduction = lr_reduction(0);
    /// loss_out is 0-d or [1]: sum over rows.
    pub const LR_REDUCTION_SUM: lr_reduction = lr_reduction(1);
    /// loss_out is 0-d or [1]: sum / counted rows; gradients divided likewise.
    pub const LR_REDUCTION_MEAN: lr_reduction = lr_reduction(2);
}

pub const LR_REDUCTION_NONE: lr_reduction = lr_reduction::LR_REDUCTION_NONE;
pub const LR_REDUCTION_SUM: lr_reduction = lr_reduction::LR_REDUCTION_SUM;
pub const LR_REDUCTION_MEAN: lr_reduction = lr_reduction::LR_REDUCTION_MEAN;

// -------------------------------------------------------------- parameters

/// `lr_select_params` (24 bytes, align 8: 4 bytes of padding before shared_vocab).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct lr_select_params {
    /// `size_of::<lr_select_params>()`.
    pub struct_size: u32,
    /// kappa: keep a row iff KL > kappa. Default 0.4.
    pub kl_threshold: f32,
    /// Logits are divided by it before the softmax. Default 1.
    pub temperature: f32,
    /// Leading ids the two models share; 0 = min(Ve, Va). Default 0.
    pub shared_vocab: i64,
}

/// `lr_target_params` (24 bytes, align 8: 4 bytes of padding before shared_vocab).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct lr_target_params {
    /// `size_of::<lr_target_params>()`.
    pub struct_size: u32,
    /// Support M = {a : p_E(a) >= beta * max p_E}. Default 0.2. In (0, 1].
    pub beta: f32,
    /// Default 1.
    pub temperature: f32,
    /// Default 0 (= min(Ve, Va)).
    pub shared_vocab: i64,
}

/// `lr_loss_params` (16 bytes, align 4).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct lr_loss_params {
    /// `size_of::<lr_loss_params>()`.
    pub struct_size: u32,
    /// Default `LR_REDUCTION_MEAN`.
    pub reduction: lr_reduction,
    /// Multiplies the gradient (not the loss). Default 1.
    pub grad_scale: f32,
    /// The model's logits are divided by it. Default 1.
    pub temperature: f32,
}

// ------------------------------------------- ABI 1.1: sharded over the vocabulary

/// Record widths of the sharded calls, in elements of the record's dtype.
/// `LR_SHARD_SELECT_STATS` float64: e_max, a_max, dE, dA, s, fault.
pub const LR_SHARD_SELECT_STATS: i64 = 6;
/// `LR_SHARD_LOSS_STATS` float64: z_max, d, vz, fault.
pub const LR_SHARD_LOSS_STATS: i64 = 4;
/// `LR_SHARD_CANDIDATES(K)` float32: count, then K (id, z_expert, z_amateur).
#[allow(non_snake_case)]
pub const fn LR_SHARD_CANDIDATES(k: i64) -> i64 {
    1 + 3 * k
}

/// `lr_vocab_shard` (32 bytes, align 8: 4 bytes of padding after
/// struct_size): where a shard lies in the full vocabulary. No defaults.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct lr_vocab_shard {
    /// `size_of::<lr_vocab_shard>()`.
    pub struct_size: u32,
    /// v0: the global id of the shard's column 0; >= 0.
    pub column_offset: i64,
    /// Ve: the expert's full width (the loss calls: the trained model's V).
    pub expert_vocab: i64,
    /// Va: the amateur's full width; ignored by the loss calls.
    pub amateur_vocab: i64,
}

// --------------------------------------------------------------- functions

extern "C" {
    /// `(major << 16) | minor` of the library actually loaded.
    pub fn lr_abi_version() -> u32;
    /// Human-readable build facts. Static storage.
    pub fn lr_build_info() -> *const c_char;
    /// A fixed English name for a status. Never NULL.
    pub fn lr_status_string(s: lr_status) -> *const c_char;
    /// The message of the last failed call on the calling thread ("" after a
    /// success). Valid until the next lr_* call on this thread.
    pub fn lr_last_error() -> *const c_char;

    /// The library's defaults, returned by value (the library's struct size).
    pub fn lr_select_params_default() -> lr_select_params;
    pub fn lr_target_params_default() -> lr_target_params;
    pub fn lr_loss_params_default() -> lr_loss_params;

    /// The library's defaults written into the first `struct_size` bytes of
    /// `*params` (and `params.struct_size = struct_size`): the form for a
    /// caller that may load a newer 1.x library than this crate mirrors.
    pub fn lr_select_params_init(params: *mut lr_select_params, struct_size: u32) -> lr_status;
    pub fn lr_target_params_init(params: *mut lr_target_params, struct_size: u32) -> lr_status;
    pub fn lr_loss_params_init(params: *mut lr_loss_params, struct_size: u32) -> lr_status;

    /// KL(p_E || p_A) per row into `kl_out` [N] f32 and the kappa-filter into
    /// `keep_out` [N] u8 (or NULL). `params` NULL = defaults.
    pub fn lr_select_steps(
        expert_logits: *const DLTensor,
        amateur_logits: *const DLTensor,
        params: *const lr_select_params,
        kl_out: *mut DLTensor,
        keep_out: *mut DLTensor,
        stream: *mut c_void,
    ) -> lr_status;

    /// The contrastive soft targets of the requested `rows` ([M] i64 or NULL
    /// for all): `target_ids` [M, K] i32, `target_weights` [M, K] f32,
    /// `support_size` [M] i32.
    pub fn lr_build_targets(
        expert_logits: *const DLTensor,
        amateur_logits: *const DLTensor,
        rows: *const DLTensor,
        params: *const lr_target_params,
        target_ids: *mut DLTensor,
        target_weights: *mut DLTensor,
        support_size: *mut DLTensor,
        stream: *mut c_void,
    ) -> lr_status;

    /// `lr_select_steps` and `lr_build_targets` on the kept rows in one pass.
    pub fn lr_select_and_build(
        expert_logits: *const DLTensor,
        amateur_logits: *const DLTensor,
        select_params: *const lr_select_params,
        target_params: *const lr_target_params,
        kl_out: *mut DLTensor,
        keep_out: *mut DLTensor,
        target_ids: *mut DLTensor,
        target_weights: *mut DLTensor,
        support_size: *mut DLTensor,
        stream: *mut c_void,
    ) -> lr_status;

    /// Distillation loss KL(v || softmax(z / T)) and its gradient
    /// (`grad_logits` may be `logits` itself, or NULL).
    pub fn lr_distill_loss_backward(
        logits: *const DLTensor,
        target_ids: *const DLTensor,
        target_weights: *const DLTensor,
        params: *const lr_loss_params,
        loss_out: *mut DLTensor,
        grad_logits: *mut DLTensor,
        stream: *mut c_void,
    ) -> lr_status;

    // ABI 1.1: each stage as a partial call on the rank's shard, the host's
    // all-gather of the records into [W, rows, width], and a finish call.

    /// Stage 1, partial: `stats_out` [N, LR_SHARD_SELECT_STATS] f64.
    pub fn lr_shard_select_stats(
        expert_shard: *const DLTensor,
        amateur_shard: *const DLTensor,
        shard: *const lr_vocab_shard,
        params: *const lr_select_params,
        stats_out: *mut DLTensor,
        stream: *mut c_void,
    ) -> lr_status;

    /// Stage 1, finish: KL and keep from the gathered `stats` [W, N, 6] f64.
    pub fn lr_shard_select_finish(
        stats: *const DLTensor,
        params: *const lr_select_params,
        kl_out: *mut DLTensor,
        keep_out: *mut DLTensor,
        stream: *mut c_void,
    ) -> lr_status;

    /// Stage 1, partial: the shard's support members of the requested rows,
    /// `candidates_out` [M, LR_SHARD_CANDIDATES(K)] f32.
    pub fn lr_shard_target_candidates(
        expert_shard: *const DLTensor,
        amateur_shard: *const DLTensor,
        shard: *const lr_vocab_shard,
        stats: *const DLTensor,
        rows: *const DLTensor,
        params: *const lr_target_params,
        candidates_out: *mut DLTensor,
        stream: *mut c_void,
    ) -> lr_status;

    /// Stage 1, finish: targets from the gathered `candidates` [W, M, 1 + 3K] f32.
    pub fn lr_shard_targets_finish(
        candidates: *const DLTensor,
        params: *const lr_target_params,
        target_ids: *mut DLTensor,
        target_weights: *mut DLTensor,
        support_size: *mut DLTensor,
        stream: *mut c_void,
    ) -> lr_status;

    /// Stage 2, partial: `stats_out` [N, LR_SHARD_LOSS_STATS] f64.
    pub fn lr_shard_loss_stats(
        logits_shard: *const DLTensor,
        shard: *const lr_vocab_shard,
        target_ids: *const DLTensor,
        target_weights: *const DLTensor,
        params: *const lr_loss_params,
        stats_out: *mut DLTensor,
        stream: *mut c_void,
    ) -> lr_status;

    /// Stage 2, finish: the loss (the same on every rank) and the gradient of
    /// the shard's columns (`grad_logits` may be `logits_shard`, or NULL).
    pub fn lr_shard_loss_backward(
        logits_shard: *const DLTensor,
        shard: *const lr_vocab_shard,
        target_ids: *const DLTensor,
        target_weights: *const DLTensor,
        stats: *const DLTensor,
        params: *const lr_loss_params,
        loss_out: *mut DLTensor,
        grad_logits: *mut DLTensor,
        stream: *mut c_void,
    ) -> lr_status;
}
