"""
    LightReasoner

Julia binding of `liblightreasoner`, the C ABI of LightReasoner C++ (ABI major
version 1). It turns the next-token logits of an expert and an amateur model into
the sparse training signal of LightReasoner, and computes the distillation loss
and its gradient. See `capi/include/lightreasoner/lightreasoner.h` for the math.

# Array layout

Julia arrays are column-major, the library's tensors row-major. A logits tensor
`[N, V]` in the C sense (N positions, V vocabulary ids, unit stride along V) is a
Julia matrix of size `(V, N)`: **each column is one position's logits**, which is
what Julia ML code (Flux, Lux) produces anyway. Likewise the targets `[M, K]` are
`(K, M)` matrices: column `j` holds the `K` token ids / weights of row `j`.

Logits may be `Matrix{Float32}`, `Matrix{Float16}` or `Matrix{BFloat16}` (this
package's 16-bit type), or any strided view of such a matrix whose first stride
is 1 (`@view A[1:V, :]` of a taller matrix works; no copy is made).

# Indices

- `rows` (in [`build_targets`](@ref)) are 1-based Julia column indices; they are
  converted to the library's 0-based row indices.
- Target ids are **token ids**, not Julia indices: they stay 0-based as in the
  library (`-1` = padding). Token id `t` is the logit at `logits[t + 1, j]`.

Errors of the library are thrown as [`LightReasonerError`](@ref).
"""
module LightReasoner

using Libdl

export select_steps, build_targets, select_and_build, distill_loss_backward,
       abi_version, build_info, status_string, LightReasonerError,
       vocab_shard, shard_select_stats, shard_select_finish, shard_target_candidates,
       shard_targets_finish, shard_loss_stats, shard_loss_backward
# BFloat16 is not exported (BFloat16s.jl and Julia >= 1.11's Core have one too):
# write LightReasoner.BFloat16.

Sys.WORD_SIZE == 64 || error("LightReasoner.jl supports 64-bit Julia only")

# ------------------------------------------------------------------ constants

const LR_ABI_VERSION_MAJOR = 1   # the header this binding mirrors: ABI 1.1
const LR_ABI_VERSION_MINOR = 1

# lr_status
const LR_OK = Cint(0)
const LR_ERR_INVALID_ARGUMENT = Cint(1)
const LR_ERR_UNSUPPORTED = Cint(2)
const LR_ERR_OUT_OF_MEMORY = Cint(3)
const LR_ERR_CUDA = Cint(4)
const LR_ERR_INTERNAL = Cint(5)
const _STATUS_NAMES = ("LR_OK", "LR_ERR_INVALID_ARGUMENT", "LR_ERR_UNSUPPORTED",
                       "LR_ERR_OUT_OF_MEMORY", "LR_ERR_CUDA", "LR_ERR_INTERNAL")

# lr_reduction
const LR_REDUCTION_NONE = Cint(0)
const LR_REDUCTION_SUM = Cint(1)
const LR_REDUCTION_MEAN = Cint(2)

# ABI 1.1 record widths (LR_SHARD_*), in elements of the record's type; ctest
# julia_binding_layout checks each `const LR_... = n` line below against the header.
const LR_SHARD_SELECT_STATS = 6        # Float64: e_max, a_max, dE, dA, s, fault
const LR_SHARD_LOSS_STATS = 4          # Float64: z_max, d, vz, fault
const LR_SHARD_CANDIDATES_BASE = 1     # Float32: count, then K (id, z_expert, z_amateur)
const LR_SHARD_CANDIDATES_PER_K = 3
"""
    LightReasoner.LR_SHARD_CANDIDATES(k) -> Int

Float32 elements per row of [`shard_target_candidates`](@ref) with `k` target slots.
"""
LR_SHARD_CANDIDATES(k::Integer) = LR_SHARD_CANDIDATES_BASE + LR_SHARD_CANDIDATES_PER_K * Int(k)

# DLPack 0.6: DLDeviceType and DLDataTypeCode values used here
const KDL_CPU = Cint(1)
const KDL_INT = UInt8(0)
const KDL_UINT = UInt8(1)
const KDL_FLOAT = UInt8(2)
const KDL_BFLOAT = UInt8(4)

# ------------------------------------------------------------------ BFloat16

"""
    BFloat16

A 16-bit brain floating point number (the top half of a `Float32`), the storage
type of bfloat16 logits. Convert with `BFloat16(x)` (round to nearest even, NaN
stays NaN) and `Float32(b)`. Only storage and conversions are provided, no
arithmetic. Not exported: write `LightReasoner.BFloat16`.

Arrays of any other 16-bit primitive type named `BFloat16` (BFloat16s.jl's,
`Core.BFloat16` of Julia >= 1.11) are accepted as bfloat16 logits too.
"""
primitive type BFloat16 <: AbstractFloat 16 end

function BFloat16(x::Float32)
    u = reinterpret(UInt32, x)
    if isnan(x)
        return reinterpret(BFloat16, ((u >> 16) | 0x00000040) % UInt16)   # quiet NaN, sign kept
    end
    u += 0x00007fff + ((u >> 16) & 0x00000001)                            # round to nearest even
    return reinterpret(BFloat16, (u >> 16) % UInt16)
end
BFloat16(x::BFloat16) = x
BFloat16(x::Float64) = BFloat16(Float32(x))   # rounds twice; exact for values already in Float32
BFloat16(x::Float16) = BFloat16(Float32(x))
BFloat16(x::Integer) = BFloat16(Float32(x))

Base.Float32(x::BFloat16) = reinterpret(Float32, UInt32(reinterpret(UInt16, x)) << 16)
Base.Float64(x::BFloat16) = Float64(Float32(x))
Base.Float16(x::BFloat16) = Float16(Float32(x))
Base.promote_rule(::Type{BFloat16}, ::Type{Float16}) = Float32
Base.promote_rule(::Type{BFloat16}, ::Type{Float32}) = Float32
Base.promote_rule(::Type{BFloat16}, ::Type{Float64}) = Float64
Base.zero(::Type{BFloat16}) = reinterpret(BFloat16, 0x0000)
Base.one(::Type{BFloat16}) = reinterpret(BFloat16, 0x3f80)
Base.isnan(x::BFloat16) = isnan(Float32(x))
Base.isinf(x::BFloat16) = isinf(Float32(x))
Base.isfinite(x::BFloat16) = isfinite(Float32(x))
Base.:(==)(a::BFloat16, b::BFloat16) = Float32(a) == Float32(b)
Base.:<(a::BFloat16, b::BFloat16) = Float32(a) < Float32(b)
Base.:<=(a::BFloat16, b::BFloat16) = Float32(a) <= Float32(b)
Base.isequal(a::BFloat16, b::BFloat16) = isequal(Float32(a), Float32(b))
Base.hash(x::BFloat16, h::UInt) = hash(Float32(x), h)
Base.show(io::IO, x::BFloat16) = print(io, "BFloat16(", Float32(x), ")")

# ------------------------------------------------------------ C struct mirrors
#
# Field order and types exactly as in dlpack/dlpack.h (DLPack 0.6) and
# lightreasoner.h. Julia lays out an immutable isbits struct like the C compiler
# does, padding included; _C_LAYOUT below asserts it, and ctest
# julia_binding_layout checks the same table against the real header.

struct DLDevice
    device_type::Cint   # DLDeviceType (a C enum: 4 bytes)
    device_id::Cint
end

struct DLDataType
    code::UInt8
    bits::UInt8
    lanes::UInt16
end

struct DLTensor
    data::Ptr{Cvoid}
    device::DLDevice
    ndim::Cint
    dtype::DLDataType
    shape::Ptr{Int64}
    strides::Ptr{Int64}   # C_NULL = compact row-major; this binding always passes them
    byte_offset::UInt64
end

struct LrSelectParams     # lr_select_params
    struct_size::UInt32
    kl_threshold::Float32
    temperature::Float32
    shared_vocab::Int64   # 4 bytes of padding before it
end

struct LrTargetParams     # lr_target_params
    struct_size::UInt32
    beta::Float32
    temperature::Float32
    shared_vocab::Int64
end

struct LrLossParams       # lr_loss_params
    struct_size::UInt32
    reduction::Cint       # lr_reduction (a C enum: 4 bytes)
    grad_scale::Float32
    temperature::Float32
end

struct LrVocabShard       # lr_vocab_shard (ABI 1.1): where a shard lies in the vocabulary
    struct_size::UInt32
    column_offset::Int64  # 4 bytes of padding before it
    expert_vocab::Int64
    amateur_vocab::Int64
end

# (Julia type, C name, sizeof, field offsets) on 64-bit targets. Printed from the
# header by layout_check.c: keep each entry on one line, check_layout.cmake parses them.
const _C_LAYOUT = (
    (DLDevice, "DLDevice", 8, (0, 4)),
    (DLDataType, "DLDataType", 4, (0, 1, 2)),
    (DLTensor, "DLTensor", 48, (0, 8, 16, 20, 24, 32, 40)),
    (LrSelectParams, "lr_select_params", 24, (0, 4, 8, 16)),
    (LrTargetParams, "lr_target_params", 24, (0, 4, 8, 16)),
    (LrLossParams, "lr_loss_params", 16, (0, 4, 8, 12)),
    (LrVocabShard, "lr_vocab_shard", 32, (0, 8, 16, 24)),
)
for (T, cname, csize, coffsets) in _C_LAYOUT
    @assert isbitstype(T) "$T must be an isbits struct"
    @assert sizeof(T) == csize "sizeof($T) = $(sizeof(T)), but sizeof($cname) = $csize"
    @assert ntuple(i -> Int(fieldoffset(T, i)), fieldcount(T)) == coffsets "field offsets of $T differ from $cname"
end
@assert sizeof(DLTensor) == 48
@assert sizeof(LrSelectParams) == 24
@assert sizeof(LrTargetParams) == 24
@assert sizeof(LrLossParams) == 16

# ------------------------------------------------------------ library loading

const _SYMBOLS = (:lr_abi_version, :lr_build_info, :lr_status_string, :lr_last_error,
                  :lr_select_params_init, :lr_target_params_init, :lr_loss_params_init,
                  :lr_select_steps, :lr_build_targets, :lr_select_and_build,
                  :lr_distill_loss_backward)
# ABI 1.1: looked up when the library has them, so that a 1.0 library still
# serves the calls above; _shard_fn says which ABI a missing one needs.
const _SHARD_SYMBOLS = (:lr_shard_select_stats, :lr_shard_select_finish, :lr_shard_target_candidates,
                        :lr_shard_targets_finish, :lr_shard_loss_stats, :lr_shard_loss_backward)
const _fnptr = Dict{Symbol,Ptr{Cvoid}}()
const _libpath = Ref{String}("")

_fn(s::Symbol) = _fnptr[s]

"""
    LightReasoner.library_path() -> String

Full path of the `liblightreasoner` that was loaded.
"""
library_path() = _libpath[]

function __init__()
    path = get(ENV, "LIGHTREASONER_LIBRARY", "")
    if isempty(path)
        path = Libdl.find_library(["liblightreasoner", "liblightreasoner.so.1"])
        isempty(path) && error("LightReasoner: liblightreasoner was not found by the dynamic loader. " *
                               "Install it (cmake --install) into a directory the loader searches, " *
                               "or set ENV[\"LIGHTREASONER_LIBRARY\"] to the full path of liblightreasoner.so " *
                               "before `using LightReasoner`.")
    end
    handle = try
        Libdl.dlopen(path)
    catch err
        error("LightReasoner: cannot load the library \"$path\": " * sprint(showerror, err))
    end
    for s in _SYMBOLS
        _fnptr[s] = try
            Libdl.dlsym(handle, s)
        catch
            error("LightReasoner: \"$path\" has no symbol $s; it is not a liblightreasoner of ABI version 1")
        end
    end
    for s in _SHARD_SYMBOLS
        p = Libdl.dlsym(handle, s; throw_error = false)
        p === nothing || (_fnptr[s] = p)
    end
    _libpath[] = Libdl.dlpath(handle)
    v = abi_version()
    major, minor = Int(v >> 16), Int(v & 0xffff)
    if major != LR_ABI_VERSION_MAJOR
        error("LightReasoner: \"$(_libpath[])\" has ABI version $major.$minor, but this package " *
              "needs ABI major version $LR_ABI_VERSION_MAJOR (built against $LR_ABI_VERSION_MAJOR.$LR_ABI_VERSION_MINOR). " *
              "Use a matching liblightreasoner or a matching LightReasoner.jl.")
    end
    return nothing
end

# ------------------------------------------------------------------- errors

"""
    LightReasonerError(status, message)

A failed library call: `status` is the `lr_status` code (e.g.
`LightReasoner.LR_ERR_INVALID_ARGUMENT`), `message` the text of `lr_last_error()`,
which names the faulty argument. Argument names and shapes in the message are the
C ones (row-major `[rows, columns]`; a Julia `(V, N)` matrix is `[N, V]` there).
"""
struct LightReasonerError <: Exception
    status::Cint
    message::String
end

function _status_name(s::Integer)
    return 0 <= s < length(_STATUS_NAMES) ? _STATUS_NAMES[Int(s) + 1] : "lr_status $s"
end

Base.showerror(io::IO, e::LightReasonerError) =
    print(io, "LightReasonerError: ", _status_name(e.status), ": ", e.message)

function _last_error()
    p = @ccall $(_fn(:lr_last_error))()::Ptr{UInt8}
    return p == C_NULL ? "" : unsafe_string(p)
end

# Must run right after the failing call, on the same task (no yield in between):
# lr_last_error() is thread-local.
@inline function _check(status::Cint)
    status == LR_OK && return nothing
    throw(LightReasonerError(status, _last_error()))
end

# ------------------------------------------------------------- library info

"""
    abi_version() -> UInt32

`(major << 16) | minor` of the loaded library, as `lr_abi_version()`. The
package checks at load time that the major part is 1.
"""
abi_version() = @ccall $(_fn(:lr_abi_version))()::UInt32

"""
    build_info() -> String

Human-readable facts about the loaded library: version, compiler, CUDA support,
CPU code paths.
"""
build_info() = unsafe_string(@ccall $(_fn(:lr_build_info))()::Ptr{UInt8})

"""
    status_string(status::Integer) -> String

The library's fixed name for an `lr_status` code ("LR_OK", ...).
"""
status_string(s::Integer) = unsafe_string(@ccall $(_fn(:lr_status_string))(Cint(s)::Cint)::Ptr{UInt8})

# --------------------------------------------------------------- parameters

_or(x, default, ::Type{T}) where {T} = x === nothing ? default : T(x)

# The library's defaults (the header documents kappa 0.4, beta 0.2, temperature
# 1, shared_vocab 0, MEAN, grad_scale 1; none is restated here), read at each
# call through lr_*_params_init with this binding's struct size: not through
# _default(), whose by-value struct is the library's size, which a newer 1.x
# library may have grown past this binding's mirror.
function _select_defaults()
    d = Ref{LrSelectParams}()
    _check(@ccall $(_fn(:lr_select_params_init))(
        d::Ref{LrSelectParams}, UInt32(sizeof(LrSelectParams))::UInt32)::Cint)
    return d[]
end

function _target_defaults()
    d = Ref{LrTargetParams}()
    _check(@ccall $(_fn(:lr_target_params_init))(
        d::Ref{LrTargetParams}, UInt32(sizeof(LrTargetParams))::UInt32)::Cint)
    return d[]
end

function _loss_defaults()
    d = Ref{LrLossParams}()
    _check(@ccall $(_fn(:lr_loss_params_init))(
        d::Ref{LrLossParams}, UInt32(sizeof(LrLossParams))::UInt32)::Cint)
    return d[]
end

# The defaults with the keywords given (not `nothing`) put over them. struct_size
# is this binding's sizeof (init wrote it): a newer library with appended fields
# then treats them as absent (the header's versioning rule).
function _select_params(kl_threshold, temperature, shared_vocab)
    d = _select_defaults()
    return LrSelectParams(d.struct_size,
                          _or(kl_threshold, d.kl_threshold, Float32),
                          _or(temperature, d.temperature, Float32),
                          _or(shared_vocab, d.shared_vocab, Int64))
end

function _target_params(beta, temperature, shared_vocab)
    d = _target_defaults()
    return LrTargetParams(d.struct_size,
                          _or(beta, d.beta, Float32),
                          _or(temperature, d.temperature, Float32),
                          _or(shared_vocab, d.shared_vocab, Int64))
end

# reduction: a Symbol (:none, :sum, :mean) or `nothing` for the library's default.
function _loss_params(reduction, grad_scale, temperature)
    d = _loss_defaults()
    return LrLossParams(d.struct_size,
                        reduction === nothing ? d.reduction : _reduction_code(reduction),
                        _or(grad_scale, d.grad_scale, Float32),
                        _or(temperature, d.temperature, Float32))
end

function _reduction_code(r::Symbol)
    r === :none && return LR_REDUCTION_NONE
    r === :sum && return LR_REDUCTION_SUM
    r === :mean && return LR_REDUCTION_MEAN
    throw(ArgumentError("reduction must be :none, :sum or :mean, got :$r"))
end

# ------------------------------------------------------------ array -> DLTensor

# Any 16-bit primitive type named BFloat16 (ours, BFloat16s.jl's, Core's) is bfloat16.
_is_bfloat16(T) = T isa DataType && isprimitivetype(T) && sizeof(T) == 2 && nameof(T) === :BFloat16
_is_logit_eltype(T) = T === Float32 || T === Float16 || _is_bfloat16(T)

_dltype(::Type{Float32}) = DLDataType(KDL_FLOAT, 0x20, 0x0001)
_dltype(::Type{Float16}) = DLDataType(KDL_FLOAT, 0x10, 0x0001)
_dltype(::Type{Float64}) = DLDataType(KDL_FLOAT, 0x40, 0x0001)
_dltype(::Type{BFloat16}) = DLDataType(KDL_BFLOAT, 0x10, 0x0001)
_dltype(::Type{Int32}) = DLDataType(KDL_INT, 0x20, 0x0001)
_dltype(::Type{Int64}) = DLDataType(KDL_INT, 0x40, 0x0001)
_dltype(::Type{UInt8}) = DLDataType(KDL_UINT, 0x08, 0x0001)
_dltype(::Type{T}) where {T} = _is_bfloat16(T) ? DLDataType(KDL_BFLOAT, 0x10, 0x0001) :
    throw(ArgumentError("element type $T has no DLPack counterpart here"))

# A DLTensor describing a Julia array, with everything its pointers point into.
# Mutable, so that GC.@preserve on it roots the array and the shape/strides
# vectors for the duration of a call. Julia's dimensions are reversed: a Julia
# (V, N) array is the C tensor [N, V] with strides (stride(A, 2), stride(A, 1)).
mutable struct _Tensor
    ref::Base.RefValue{DLTensor}
    array::Any
    shape::Vector{Int64}
    strides::Vector{Int64}
end

function _tensor(A::AbstractArray{T,N}, name::AbstractString) where {T,N}
    A isa StridedArray || throw(ArgumentError(
        "$name: a $(typeof(A)) is not a strided array; pass an Array or a strided view of one (or collect it)"))
    p = pointer(A)
    p isa Ptr || throw(ArgumentError("$name: only arrays in CPU memory are supported, got $(typeof(A))"))
    shape = Int64[size(A, d) for d in N:-1:1]
    strd = Int64[stride(A, d) for d in N:-1:1]
    t = DLTensor(Ptr{Cvoid}(p), DLDevice(KDL_CPU, Cint(0)), Cint(N), _dltype(T),
                 pointer(shape), pointer(strd), UInt64(0))
    return _Tensor(Ref(t), A, shape, strd)
end

_ptr(t::_Tensor) = Base.unsafe_convert(Ptr{DLTensor}, t.ref)
_ptr(::Nothing) = Ptr{DLTensor}(C_NULL)

function _logits_tensor(A::AbstractMatrix, name::AbstractString)
    _is_logit_eltype(eltype(A)) || throw(ArgumentError(
        "$name: logits must have element type Float32, Float16 or LightReasoner.BFloat16, " *
        "got $(eltype(A)) (convert with Float32.($name))"))
    A isa StridedMatrix || throw(ArgumentError(
        "$name: a $(typeof(A)) is not a strided matrix; pass a Matrix or a strided view of one"))
    size(A, 1) <= 1 || stride(A, 1) == 1 || throw(ArgumentError(
        "$name: logits need unit stride along the vocabulary (the first Julia dimension), got stride " *
        "$(stride(A, 1)); each column must hold one position's logits (a (V, N) matrix)"))
    return _tensor(A, name)
end
_logits_tensor(A, name::AbstractString) =
    throw(ArgumentError("$name must be a (vocab, positions) AbstractMatrix, got $(typeof(A))"))

function _one_based_rows_to_c(rows::AbstractVector{<:Integer}, n::Integer)
    rows isa AbstractVector{Bool} && throw(ArgumentError(
        "rows is a Bool vector; pass indices, e.g. rows = findall(keep)"))
    out = Vector{Int64}(undef, length(rows))
    for (j, r) in enumerate(rows)
        1 <= r <= n || throw(ArgumentError(
            "rows[$j] = $r is outside 1:$n (rows are 1-based column indices of the logits)"))
        out[j] = Int64(r) - 1
    end
    return out
end

_as_strided(A::StridedMatrix{T}, ::Type{T}) where {T} = A
_as_strided(A::AbstractMatrix, ::Type{T}) where {T} = Matrix{T}(A)

# ------------------------------------------------------------------- stage 1

"""
    select_steps(expert, amateur; kl_threshold, temperature, shared_vocab)
        -> (kl::Vector{Float32}, keep::Vector{Bool})

KL(p_E ‖ p_A) of each position and the kappa-filter `keep = kl .> kl_threshold`
(`lr_select_steps`).

`expert` is a `(Ve, N)` matrix and `amateur` a `(Va, N)` matrix of logits
(column `j` = position `j`), element type `Float32`, `Float16` or `BFloat16`,
unit stride along the first dimension. Softmaxes are taken over the first
`shared_vocab` ids (`0` = `min(Ve, Va)`). Omitted keywords take the library's
defaults, read from it at each call (`lr_select_params_init`; the header
documents kappa 0.4, temperature 1, shared_vocab 0). A position with NaN/+Inf
logits gets `kl = NaN`, `keep = false`. Returns a named tuple.
"""
function select_steps(expert::AbstractMatrix, amateur::AbstractMatrix;
                      kl_threshold = nothing, temperature = nothing, shared_vocab = nothing)
    params = _select_params(kl_threshold, temperature, shared_vocab)
    e = _logits_tensor(expert, "expert")
    a = _logits_tensor(amateur, "amateur")
    n = size(expert, 2)
    kl = Vector{Float32}(undef, n)
    keep = Vector{UInt8}(undef, n)
    klt = _tensor(kl, "kl")
    keept = _tensor(keep, "keep")
    GC.@preserve e a klt keept begin
        status = @ccall $(_fn(:lr_select_steps))(
            _ptr(e)::Ptr{DLTensor}, _ptr(a)::Ptr{DLTensor}, params::Ref{LrSelectParams},
            _ptr(klt)::Ptr{DLTensor}, _ptr(keept)::Ptr{DLTensor}, C_NULL::Ptr{Cvoid})::Cint
        _check(status)
    end
    return (kl = kl, keep = Bool[x != 0 for x in keep])
end

"""
    build_targets(expert, amateur; k, rows=nothing, beta, temperature, shared_vocab)
        -> (ids::Matrix{Int32}, weights::Matrix{Float32}, support::Vector{Int32})

The contrastive soft target of each requested position (`lr_build_targets`).

- `expert`, `amateur`: logits as for [`select_steps`](@ref).
- `k` (required): the number of target slots per position (it sizes the
  outputs, so the library has no default for it).
- `beta`, `temperature`, `shared_vocab`: omitted, the library's defaults
  (`lr_target_params_init`; the header documents beta 0.2, temperature 1,
  shared_vocab 0).
- `rows`: **1-based** column indices into the logits (any order, repeats
  allowed), e.g. `findall(keep)`; `nothing` means all `N` columns.

With `M = length(rows)`, `ids` and `weights` are `(k, M)` matrices: column `j` is
the target of position `rows[j]`, in descending weight order. `ids` are the
library's **0-based token ids** (`-1` = padding; token `t` is row `t + 1` of the
logits), `weights` sum to 1 per column (`0` = padding). `support[j]` is the size
of the beta-support before truncation to `k` (`-1` for a position with faulty
logits), so truncation is never silent.
"""
function build_targets(expert::AbstractMatrix, amateur::AbstractMatrix; k::Integer,
                       rows::Union{Nothing,AbstractVector{<:Integer}} = nothing,
                       beta = nothing, temperature = nothing, shared_vocab = nothing)
    k >= 1 || throw(ArgumentError("k must be >= 1, got $k"))
    params = _target_params(beta, temperature, shared_vocab)
    e = _logits_tensor(expert, "expert")
    a = _logits_tensor(amateur, "amateur")
    n = size(expert, 2)
    crows = rows === nothing ? nothing : _one_based_rows_to_c(rows, n)
    m = crows === nothing ? n : length(crows)
    ids = Matrix{Int32}(undef, k, m)
    weights = Matrix{Float32}(undef, k, m)
    support = Vector{Int32}(undef, m)
    rowst = crows === nothing ? nothing : _tensor(crows, "rows")
    idst = _tensor(ids, "ids")
    wt = _tensor(weights, "weights")
    supt = _tensor(support, "support")
    GC.@preserve e a rowst idst wt supt begin
        status = @ccall $(_fn(:lr_build_targets))(
            _ptr(e)::Ptr{DLTensor}, _ptr(a)::Ptr{DLTensor}, _ptr(rowst)::Ptr{DLTensor},
            params::Ref{LrTargetParams}, _ptr(idst)::Ptr{DLTensor}, _ptr(wt)::Ptr{DLTensor},
            _ptr(supt)::Ptr{DLTensor}, C_NULL::Ptr{Cvoid})::Cint
        _check(status)
    end
    return (ids = ids, weights = weights, support = support)
end

"""
    select_and_build(expert, amateur; k, kl_threshold, beta, temperature, shared_vocab)
        -> (kl, keep, ids, weights, support)

[`select_steps`](@ref) and [`build_targets`](@ref) in one pass over the logits
(`lr_select_and_build`). All outputs cover all `N` positions: `kl`, `keep`
(`Vector{Bool}`) and `support` (`Vector{Int32}`) have length `N`, `ids`
(`Matrix{Int32}`, 0-based token ids) and `weights` (`Matrix{Float32}`) are
`(k, N)`. Columns of positions not kept are padding (ids `-1`, weights `0`,
support `0`). `temperature` and `shared_vocab` apply to both stages; omitted
keywords take the library's defaults as in those two.
"""
function select_and_build(expert::AbstractMatrix, amateur::AbstractMatrix; k::Integer,
                          kl_threshold = nothing, beta = nothing,
                          temperature = nothing, shared_vocab = nothing)
    k >= 1 || throw(ArgumentError("k must be >= 1, got $k"))
    sparams = _select_params(kl_threshold, temperature, shared_vocab)
    tparams = _target_params(beta, temperature, shared_vocab)
    e = _logits_tensor(expert, "expert")
    a = _logits_tensor(amateur, "amateur")
    n = size(expert, 2)
    kl = Vector{Float32}(undef, n)
    keep = Vector{UInt8}(undef, n)
    ids = Matrix{Int32}(undef, k, n)
    weights = Matrix{Float32}(undef, k, n)
    support = Vector{Int32}(undef, n)
    klt = _tensor(kl, "kl")
    keept = _tensor(keep, "keep")
    idst = _tensor(ids, "ids")
    wt = _tensor(weights, "weights")
    supt = _tensor(support, "support")
    GC.@preserve e a klt keept idst wt supt begin
        status = @ccall $(_fn(:lr_select_and_build))(
            _ptr(e)::Ptr{DLTensor}, _ptr(a)::Ptr{DLTensor},
            sparams::Ref{LrSelectParams}, tparams::Ref{LrTargetParams},
            _ptr(klt)::Ptr{DLTensor}, _ptr(keept)::Ptr{DLTensor}, _ptr(idst)::Ptr{DLTensor},
            _ptr(wt)::Ptr{DLTensor}, _ptr(supt)::Ptr{DLTensor}, C_NULL::Ptr{Cvoid})::Cint
        _check(status)
    end
    return (kl = kl, keep = Bool[x != 0 for x in keep], ids = ids, weights = weights, support = support)
end

# ------------------------------------------------------------------- stage 2

"""
    distill_loss_backward(logits, ids, weights; reduction, grad_scale, temperature,
                          grad=:new) -> (loss, grad)

Loss KL(v ‖ softmax(z / T)) of the trained model's logits `z` against the sparse
targets `v`, and its gradient with respect to `z` (`lr_distill_loss_backward`).

- `logits`: `(V, N)` matrix (column = position), `Float32`, `Float16` or
  `BFloat16`, unit stride along the first dimension (strided views work).
- `ids`: `(K, N)` integer matrix of **0-based token ids** in `[-1, V)`
  (`-1` = padding), as returned by [`build_targets`](@ref); converted to `Int32`
  if needed.
- `weights`: `(K, N)` real matrix, finite and `>= 0`, `0` where the id is `-1`;
  converted to `Float32` if needed.
- `reduction`: `:none` (loss is a `Vector{Float32}` of length `N`), `:sum` or
  `:mean` (loss is a `Float32`; `:mean` divides loss and gradient by the number of
  positions with at least one id ≠ -1).
- `grad_scale` multiplies the gradient only (e.g. `1 / accumulation_steps`).
- `reduction`, `grad_scale`, `temperature` omitted take the library's defaults
  (`lr_loss_params_init`; the header documents `:mean`, grad_scale 1,
  temperature 1).
- `grad`: `:new` returns a new `(V, N)` matrix of the logits' element type;
  `:inplace` overwrites `logits` with the gradient and returns it; `:none` skips
  the gradient (`nothing`); or pass a preallocated matrix of the logits' size and
  element type to write it there.
"""
function distill_loss_backward(logits::AbstractMatrix, ids::AbstractMatrix{<:Integer},
                               weights::AbstractMatrix{<:Real};
                               reduction::Union{Symbol,Nothing} = nothing, grad_scale = nothing,
                               temperature = nothing, grad::Union{Symbol,AbstractMatrix} = :new)
    return _loss_call(logits, ids, weights, reduction, grad_scale, temperature, grad) do lt, idst, wt, params, losst, gt
        @ccall $(_fn(:lr_distill_loss_backward))(
            lt::Ptr{DLTensor}, idst::Ptr{DLTensor}, wt::Ptr{DLTensor}, params::Ref{LrLossParams},
            losst::Ptr{DLTensor}, gt::Ptr{DLTensor}, C_NULL::Ptr{Cvoid})::Cint
    end
end

# The body both loss calls share (1.0 and sharded): arguments checked and
# described, the loss and gradient allocated as `grad` says; then
# `call(logits, ids, weights, params, loss, grad)` (DLTensor pointers and the
# params struct) makes the C call and returns its status.
function _loss_call(call, logits::AbstractMatrix, ids::AbstractMatrix{<:Integer}, weights::AbstractMatrix{<:Real},
                    reduction, grad_scale, temperature, grad)
    params = _loss_params(reduction, grad_scale, temperature)
    red = params.reduction
    lt = _logits_tensor(logits, "logits")
    V, n = size(logits)
    size(ids, 2) == n || throw(DimensionMismatch(
        "ids has $(size(ids, 2)) columns but logits has $n (ids is (K, N) for (V, N) logits)"))
    size(weights) == size(ids) || throw(DimensionMismatch(
        "weights has size $(size(weights)) but ids has size $(size(ids)); both are (K, N)"))
    idm = _as_strided(ids, Int32)
    wm = _as_strided(weights, Float32)
    T = eltype(logits)
    if grad === :new
        gradarr = Matrix{T}(undef, V, n)
    elseif grad === :inplace
        gradarr = logits
    elseif grad === :none
        gradarr = nothing
    elseif grad isa AbstractMatrix
        eltype(grad) === T || throw(ArgumentError("grad has element type $(eltype(grad)), logits $T; they must match"))
        size(grad) == (V, n) || throw(DimensionMismatch("grad has size $(size(grad)), logits $((V, n))"))
        gradarr = grad
    else
        throw(ArgumentError("grad must be :new, :inplace, :none or a matrix, got :$grad"))
    end
    loss = Vector{Float32}(undef, red == LR_REDUCTION_NONE ? n : 1)
    idst = _tensor(idm, "ids")
    wt = _tensor(wm, "weights")
    losst = _tensor(loss, "loss")
    gt = gradarr === nothing ? nothing : _logits_tensor(gradarr, "grad")
    GC.@preserve lt idst wt losst gt begin
        status = call(_ptr(lt), _ptr(idst), _ptr(wt), params, _ptr(losst), _ptr(gt))
        _check(status)
    end
    return (loss = red == LR_REDUCTION_NONE ? loss : loss[1], grad = gradarr)
end

include("shard.jl")

end # module
