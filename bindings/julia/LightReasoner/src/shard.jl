# ABI 1.1: logits sharded over the vocabulary (lr_shard_*), one function per C
# call. A tensor-parallel host holds each model's logits split by contiguous
# vocabulary ranges; each stage is a *partial* call on the rank's shard (a small
# record per position), the host's all-gather of the records over the ranks, and
# a *finish* call that gives what the unsharded call gives. In Julia's layout a
# record block is a (width, N) matrix and the gathered records a (width, N, W)
# array: `cat(records...; dims = 3)` of the ranks' matrices in one fixed order
# of shards, or the buffer an MPI.Allgather! fills. The header states the
# contract (which columns a shard may hold, the record layouts, bytes per row).

"""
    vocab_shard(column_offset, expert_vocab, amateur_vocab = 0) -> LrVocabShard

Where a shard lies in the full vocabulary (`lr_vocab_shard`): its first row of
logits is **token id** `column_offset` (0-based, as target ids are), and
`expert_vocab`, `amateur_vocab` are the models' full widths. For the loss calls
`expert_vocab` is the trained model's full width V and `amateur_vocab` is ignored.
"""
vocab_shard(column_offset::Integer, expert_vocab::Integer, amateur_vocab::Integer = 0) =
    LrVocabShard(UInt32(sizeof(LrVocabShard)), Int64(column_offset), Int64(expert_vocab), Int64(amateur_vocab))

# The ABI 1.1 entry point `s`, or an error naming the loaded library's ABI.
function _shard_fn(s::Symbol)
    p = get(_fnptr, s, C_NULL)
    p == C_NULL || return p
    v = abi_version()
    throw(LightReasonerError(LR_ERR_UNSUPPORTED,
        "$s needs liblightreasoner ABI 1.1 or newer; $(_libpath[]) has ABI $(v >> 16).$(v & 0xffff)"))
end

function _gathered(x::AbstractArray{T,3}, ::Type{T}, name) where {T}
    return _tensor(x, name)
end
_gathered(x, ::Type{T}, name) where {T} = throw(ArgumentError(
    "$name must be a (width, N, W) Array{$T,3} of the ranks' records (cat(...; dims = 3)), got $(typeof(x))"))

"""
    shard_select_stats(expert_shard, amateur_shard, shard; temperature, shared_vocab)
        -> Matrix{Float64}

Stage 1, partial (`lr_shard_select_stats`): the KL statistics of the shard's
shared ids, a `(LR_SHARD_SELECT_STATS, N)` matrix. `expert_shard` is `(Ve_r, N)`,
`amateur_shard` `(Va_r, N)`: the two models' rows of logits from token id
`shard.column_offset` on (see [`vocab_shard`](@ref)). Keywords as for
[`select_steps`](@ref).
"""
function shard_select_stats(expert_shard::AbstractMatrix, amateur_shard::AbstractMatrix, shard::LrVocabShard;
                            temperature = nothing, shared_vocab = nothing)
    params = _select_params(nothing, temperature, shared_vocab)
    e = _logits_tensor(expert_shard, "expert_shard")
    a = _logits_tensor(amateur_shard, "amateur_shard")
    stats = Matrix{Float64}(undef, LR_SHARD_SELECT_STATS, size(expert_shard, 2))
    st = _tensor(stats, "stats")
    GC.@preserve e a st begin
        status = @ccall $(_shard_fn(:lr_shard_select_stats))(
            _ptr(e)::Ptr{DLTensor}, _ptr(a)::Ptr{DLTensor}, shard::Ref{LrVocabShard},
            params::Ref{LrSelectParams}, _ptr(st)::Ptr{DLTensor}, C_NULL::Ptr{Cvoid})::Cint
        _check(status)
    end
    return stats
end

"""
    shard_select_finish(stats; kl_threshold, temperature, shared_vocab) -> (kl, keep)

Stage 1, finish (`lr_shard_select_finish`): KL and keep of every position from
the gathered `(LR_SHARD_SELECT_STATS, N, W)` stats, exactly as
[`select_steps`](@ref) gives them for the whole logits.
"""
function shard_select_finish(stats; kl_threshold = nothing, temperature = nothing, shared_vocab = nothing)
    params = _select_params(kl_threshold, temperature, shared_vocab)
    st = _gathered(stats, Float64, "stats")
    n = size(stats, 2)
    kl = Vector{Float32}(undef, n)
    keep = Vector{UInt8}(undef, n)
    klt = _tensor(kl, "kl")
    keept = _tensor(keep, "keep")
    GC.@preserve st klt keept begin
        status = @ccall $(_shard_fn(:lr_shard_select_finish))(
            _ptr(st)::Ptr{DLTensor}, params::Ref{LrSelectParams}, _ptr(klt)::Ptr{DLTensor},
            _ptr(keept)::Ptr{DLTensor}, C_NULL::Ptr{Cvoid})::Cint
        _check(status)
    end
    return (kl = kl, keep = Bool[x != 0 for x in keep])
end

"""
    shard_target_candidates(expert_shard, amateur_shard, shard, stats; k, rows = nothing,
                            beta, temperature, shared_vocab) -> Matrix{Float32}

Stage 1, partial (`lr_shard_target_candidates`): the shard's members of the
support of each requested position, a `(LR_SHARD_CANDIDATES(k), M)` matrix,
decided with the gathered `stats` of [`shard_select_stats`](@ref). `rows` are
1-based column indices as for [`build_targets`](@ref) (`nothing`: all N).
"""
function shard_target_candidates(expert_shard::AbstractMatrix, amateur_shard::AbstractMatrix,
                                 shard::LrVocabShard, stats; k::Integer,
                                 rows::Union{Nothing,AbstractVector{<:Integer}} = nothing,
                                 beta = nothing, temperature = nothing, shared_vocab = nothing)
    k >= 1 || throw(ArgumentError("k must be >= 1, got $k"))
    params = _target_params(beta, temperature, shared_vocab)
    e = _logits_tensor(expert_shard, "expert_shard")
    a = _logits_tensor(amateur_shard, "amateur_shard")
    st = _gathered(stats, Float64, "stats")
    n = size(expert_shard, 2)
    crows = rows === nothing ? nothing : _one_based_rows_to_c(rows, n)
    m = crows === nothing ? n : length(crows)
    cands = Matrix{Float32}(undef, LR_SHARD_CANDIDATES(k), m)
    rowst = crows === nothing ? nothing : _tensor(crows, "rows")
    ct = _tensor(cands, "candidates")
    GC.@preserve e a st rowst ct begin
        status = @ccall $(_shard_fn(:lr_shard_target_candidates))(
            _ptr(e)::Ptr{DLTensor}, _ptr(a)::Ptr{DLTensor}, shard::Ref{LrVocabShard},
            _ptr(st)::Ptr{DLTensor}, _ptr(rowst)::Ptr{DLTensor}, params::Ref{LrTargetParams},
            _ptr(ct)::Ptr{DLTensor}, C_NULL::Ptr{Cvoid})::Cint
        _check(status)
    end
    return cands
end

"""
    shard_targets_finish(candidates; beta, temperature, shared_vocab) -> (ids, weights, support)

Stage 1, finish (`lr_shard_targets_finish`): the targets from the gathered
`(LR_SHARD_CANDIDATES(k), M, W)` candidates (k is read from the first
dimension), exactly as [`build_targets`](@ref) returns them: 0-based global
token ids.
"""
function shard_targets_finish(candidates; beta = nothing, temperature = nothing, shared_vocab = nothing)
    params = _target_params(beta, temperature, shared_vocab)
    ct = _gathered(candidates, Float32, "candidates")
    width, m = size(candidates, 1), size(candidates, 2)
    k = (width - LR_SHARD_CANDIDATES_BASE) ÷ LR_SHARD_CANDIDATES_PER_K
    (k >= 1 && LR_SHARD_CANDIDATES(k) == width) || throw(ArgumentError(
        "candidates has $width rows, not LR_SHARD_CANDIDATES(k) = 1 + 3k for a k >= 1"))
    ids = Matrix{Int32}(undef, k, m)
    weights = Matrix{Float32}(undef, k, m)
    support = Vector{Int32}(undef, m)
    idst = _tensor(ids, "ids")
    wt = _tensor(weights, "weights")
    supt = _tensor(support, "support")
    GC.@preserve ct idst wt supt begin
        status = @ccall $(_shard_fn(:lr_shard_targets_finish))(
            _ptr(ct)::Ptr{DLTensor}, params::Ref{LrTargetParams}, _ptr(idst)::Ptr{DLTensor},
            _ptr(wt)::Ptr{DLTensor}, _ptr(supt)::Ptr{DLTensor}, C_NULL::Ptr{Cvoid})::Cint
        _check(status)
    end
    return (ids = ids, weights = weights, support = support)
end

"""
    shard_loss_stats(logits_shard, shard, ids, weights; temperature) -> Matrix{Float64}

Stage 2, partial (`lr_shard_loss_stats`): the softmax statistics of the trained
model's shard `(V_r, N)` and its target terms, a `(LR_SHARD_LOSS_STATS, N)`
matrix. `ids`, `weights` are the full `(K, N)` targets with global token ids,
the same on every rank; `shard = vocab_shard(column_offset, V)`.
"""
function shard_loss_stats(logits_shard::AbstractMatrix, shard::LrVocabShard, ids::AbstractMatrix{<:Integer},
                          weights::AbstractMatrix{<:Real}; temperature = nothing)
    params = _loss_params(nothing, nothing, temperature)
    lt = _logits_tensor(logits_shard, "logits_shard")
    idst = _tensor(_as_strided(ids, Int32), "ids")
    wt = _tensor(_as_strided(weights, Float32), "weights")
    stats = Matrix{Float64}(undef, LR_SHARD_LOSS_STATS, size(logits_shard, 2))
    st = _tensor(stats, "stats")
    GC.@preserve lt idst wt st begin
        status = @ccall $(_shard_fn(:lr_shard_loss_stats))(
            _ptr(lt)::Ptr{DLTensor}, shard::Ref{LrVocabShard}, _ptr(idst)::Ptr{DLTensor},
            _ptr(wt)::Ptr{DLTensor}, params::Ref{LrLossParams}, _ptr(st)::Ptr{DLTensor},
            C_NULL::Ptr{Cvoid})::Cint
        _check(status)
    end
    return stats
end

"""
    shard_loss_backward(logits_shard, shard, ids, weights, stats; reduction, grad_scale,
                        temperature, grad = :new) -> (loss, grad)

Stage 2, finish (`lr_shard_loss_backward`): the loss of the whole positions (the
same on every rank) from the gathered `(LR_SHARD_LOSS_STATS, N, W)` stats, and
the gradient of the shard's own rows of logits. Keywords as for
[`distill_loss_backward`](@ref) (`grad = :inplace` writes over `logits_shard`).
"""
function shard_loss_backward(logits_shard::AbstractMatrix, shard::LrVocabShard, ids::AbstractMatrix{<:Integer},
                             weights::AbstractMatrix{<:Real}, stats;
                             reduction::Union{Symbol,Nothing} = nothing, grad_scale = nothing,
                             temperature = nothing, grad::Union{Symbol,AbstractMatrix} = :new)
    st = _gathered(stats, Float64, "stats")
    fn = _shard_fn(:lr_shard_loss_backward)
    stp = _ptr(st)
    out = GC.@preserve st begin
        _loss_call(logits_shard, ids, weights, reduction, grad_scale, temperature, grad) do lt, idst, wt, params, losst, gt
            @ccall $(fn)(lt::Ptr{DLTensor}, shard::Ref{LrVocabShard}, idst::Ptr{DLTensor}, wt::Ptr{DLTensor},
                         stp::Ptr{DLTensor}, params::Ref{LrLossParams}, losst::Ptr{DLTensor},
                         gt::Ptr{DLTensor}, C_NULL::Ptr{Cvoid})::Cint
        end
    end
    return out
end
