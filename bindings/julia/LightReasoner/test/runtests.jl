# Tests of the Julia binding against the shared fixture of every binding
# (tests/fixtures/binding_fixture.json: inputs and the double-precision brute
# force's expected outputs). Run with
#   LIGHTREASONER_LIBRARY=/path/to/liblightreasoner.so julia --project=. test/runtests.jl
# or Pkg.test(). LIGHTREASONER_FIXTURE overrides the fixture's path.
using Test
using LightReasoner
using LightReasoner: BFloat16, LightReasonerError

include("json_min.jl")
using .JsonMin: parse_json

const FIXTURE = get(ENV, "LIGHTREASONER_FIXTURE",
                    joinpath(@__DIR__, "..", "..", "..", "..", "tests", "fixtures", "binding_fixture.json"))
const fx = parse_json(read(FIXTURE, String))
const tol = fx["tolerance"]

# The fixture stores C row-major [rows][cols]; a Julia (cols, rows) matrix has
# one fixture row per column.
cols(rows, ::Type{T}) where {T} = T.(hcat([T.(r) for r in rows]...))

# |got - want| <= tol * max(1, |want|), elementwise.
near(got, want, t) = size(got) == size(want) &&
                      all(abs.(Float64.(got) .- Float64.(want)) .<= t .* max.(1.0, abs.(Float64.(want))))

const E = cols(fx["expert"], Float32)    # (Ve, N) = (12, 6)
const A = cols(fx["amateur"], Float32)   # (Va, N) = (10, 6)
const N = size(E, 2)
const S = fx["select"]
const TG = fx["targets"]
const L = fx["loss"]
const ROWS1 = [Int(r) + 1 for r in TG["rows"]]   # 1-based columns
const K = Int(TG["k"])
const Z = cols(L["logits"], Float32)             # (V, N) = (12, 6)
const IDS = cols(L["target_ids"], Int32)         # (K, N), 0-based token ids
const W = cols(L["target_weights"], Float32)     # (K, N)
const MEAN = L["mean"]
const NONE = L["none"]

@testset "LightReasoner.jl" begin

@testset "library" begin
    @test abi_version() == UInt32(fx["abi_version"])
    @test abi_version() >> 16 == 1
    info = build_info()
    @test info isa String && !isempty(info)
    @test status_string(0) == "LR_OK"
    @test status_string(LightReasoner.LR_ERR_INVALID_ARGUMENT) == "LR_ERR_INVALID_ARGUMENT"
    @test isfile(LightReasoner.library_path())
end

@testset "omitted keywords are the library's defaults" begin
    # lr_*_params_default() read here on its own, by value (this library is the
    # one the binding mirrors, so its struct fits), against what the binding
    # builds from lr_*_params_init when no keyword is given.
    handle = LightReasoner.Libdl.dlopen(LightReasoner.library_path())
    fn(name) = LightReasoner.Libdl.dlsym(handle, name)
    select = ccall(fn(:lr_select_params_default), LightReasoner.LrSelectParams, ())
    target = ccall(fn(:lr_target_params_default), LightReasoner.LrTargetParams, ())
    loss = ccall(fn(:lr_loss_params_default), LightReasoner.LrLossParams, ())
    @test LightReasoner._select_params(nothing, nothing, nothing) == select
    @test LightReasoner._target_params(nothing, nothing, nothing) == target
    @test LightReasoner._loss_params(nothing, nothing, nothing) == loss
    p = LightReasoner._select_params(0.75, nothing, nothing)
    @test p.kl_threshold == 0.75f0 && p.temperature == select.temperature
    @test LightReasoner._loss_params(:sum, nothing, nothing).reduction == LightReasoner.LR_REDUCTION_SUM
end

@testset "select_steps" begin
    r = select_steps(E, A; kl_threshold = S["kl_threshold"], temperature = S["temperature"],
                     shared_vocab = S["shared_vocab"])
    @test r.kl isa Vector{Float32}
    @test r.keep isa Vector{Bool}
    @test near(r.kl, Float64.(S["kl"]), tol["kl"])
    @test r.keep == Bool.(S["keep"])
    kl, keep = select_steps(E, A)   # library defaults = the fixture's parameters
    @test kl == r.kl && keep == r.keep
end

@testset "build_targets" begin
    r = build_targets(E, A; k = K, rows = ROWS1, beta = TG["beta"], temperature = TG["temperature"],
                      shared_vocab = TG["shared_vocab"])
    @test r.ids isa Matrix{Int32} && size(r.ids) == (K, length(ROWS1))
    @test r.weights isa Matrix{Float32} && size(r.weights) == (K, length(ROWS1))
    @test r.support isa Vector{Int32}
    @test r.ids == cols(TG["ids"], Int32)
    @test near(r.weights, cols(TG["weights"], Float64), tol["weights"])
    @test r.support == Int32.(TG["support_size"])
    # rows = nothing: every column, the same targets where requested above
    every = build_targets(E, A; k = K)
    @test size(every.ids) == (K, N)
    @test every.ids[:, ROWS1] == r.ids
    @test near(every.weights[:, ROWS1], r.weights, tol["weights"])
    @test every.support[ROWS1] == r.support
    # repeats and any order; a range works as rows
    @test build_targets(E, A; k = K, rows = [ROWS1[1], ROWS1[1]]).ids == r.ids[:, [1, 1]]
    @test build_targets(E, A; k = K, rows = 1:N).ids == every.ids
    @test size(build_targets(E, A; k = K, rows = Int[]).ids) == (K, 0)
    # 1-based rows are checked on the Julia side
    @test_throws ArgumentError build_targets(E, A; k = K, rows = [0])
    @test_throws ArgumentError build_targets(E, A; k = K, rows = [N + 1])
    @test_throws ArgumentError build_targets(E, A; k = K, rows = trues(N))
    @test_throws ArgumentError build_targets(E, A; k = 0)
end

@testset "select_and_build" begin
    r = select_and_build(E, A; k = K, kl_threshold = S["kl_threshold"], beta = TG["beta"])
    @test near(r.kl, Float64.(S["kl"]), tol["kl"])
    @test r.keep == Bool.(S["keep"])
    @test size(r.ids) == (K, N) && size(r.weights) == (K, N) && length(r.support) == N
    kept = findall(r.keep)
    dropped = findall(!, r.keep)
    @test !isempty(kept) && !isempty(dropped)
    bt = build_targets(E, A; k = K, rows = kept)
    @test r.ids[:, kept] == bt.ids
    @test near(r.weights[:, kept], bt.weights, tol["weights"])
    @test r.support[kept] == bt.support
    @test all(r.ids[:, dropped] .== -1)
    @test all(r.weights[:, dropped] .== 0)
    @test all(r.support[dropped] .== 0)
    want_ids = cols(TG["ids"], Int32)
    for (j, row) in enumerate(ROWS1)
        r.keep[row] || continue
        @test r.ids[:, row] == want_ids[:, j]
    end
end

@testset "distill_loss_backward" begin
    want_mean_grad = cols(MEAN["grad"], Float64)
    r = distill_loss_backward(Z, IDS, W; reduction = :mean, grad_scale = MEAN["grad_scale"])
    @test r.loss isa Float32
    @test near([r.loss], [MEAN["loss"]], tol["loss"])
    @test r.grad isa Matrix{Float32} && size(r.grad) == size(Z)
    @test near(r.grad, want_mean_grad, tol["grad"])

    rn = distill_loss_backward(Z, IDS, W; reduction = :none, grad_scale = NONE["grad_scale"])
    @test rn.loss isa Vector{Float32} && length(rn.loss) == N
    @test near(rn.loss, Float64.(NONE["row_loss"]), tol["loss"])
    @test near(rn.grad, cols(NONE["grad"], Float64), tol["grad"])

    rs = distill_loss_backward(Z, IDS, W; reduction = :sum, grad = :none)
    @test rs.grad === nothing
    @test near([rs.loss], [sum(Float64.(NONE["row_loss"]))], tol["loss"])

    # gradient written over the logits
    Zc = copy(Z)
    ri = distill_loss_backward(Zc, IDS, W; grad_scale = MEAN["grad_scale"], grad = :inplace)
    @test ri.grad === Zc
    @test near(Zc, want_mean_grad, tol["grad"])
    @test near([ri.loss], [MEAN["loss"]], tol["loss"])

    # into a preallocated matrix
    G = fill(NaN32, size(Z))
    rg = distill_loss_backward(Z, IDS, W; grad_scale = MEAN["grad_scale"], grad = G)
    @test rg.grad === G
    @test near(G, want_mean_grad, tol["grad"])

    # other integer / real element types are converted
    r64 = distill_loss_backward(Z, Int64.(IDS), Float64.(W); grad_scale = MEAN["grad_scale"])
    @test near([r64.loss], [MEAN["loss"]], tol["loss"])
    @test near(r64.grad, want_mean_grad, tol["grad"])

    @test_throws ArgumentError distill_loss_backward(Z, IDS, W; reduction = :avg)
    @test_throws ArgumentError distill_loss_backward(Z, IDS, W; grad = :fresh)
    @test_throws DimensionMismatch distill_loss_backward(Z, IDS[:, 1:N-1], W[:, 1:N-1])
    @test_throws DimensionMismatch distill_loss_backward(Z, IDS, W[1:K-1, :])
end

@testset "strided views" begin
    Ve, Va, V = size(E, 1), size(A, 1), size(Z, 1)
    Ebig = fill(NaN32, Ve + 3, N)          # taller buffers: the views' column stride exceeds V
    Ebig[1:Ve, :] .= E
    Abig = fill(NaN32, Va + 5, N)
    Abig[1:Va, :] .= A
    Ev = @view Ebig[1:Ve, :]
    Av = @view Abig[1:Va, :]
    @test stride(Ev, 1) == 1 && stride(Ev, 2) == Ve + 3
    r0 = select_steps(E, A)
    r = select_steps(Ev, Av)
    @test r.kl == r0.kl && r.keep == r0.keep
    @test build_targets(Ev, Av; k = K, rows = ROWS1).ids == cols(TG["ids"], Int32)
    fused = select_and_build(Ev, Av; k = K)
    @test fused.ids == select_and_build(E, A; k = K).ids

    # the gradient in place through a view: only the view's elements change
    Zbig = fill(-7.0f0, V + 2, N)
    Zbig[1:V, :] .= Z
    Zv = @view Zbig[1:V, :]
    rv = distill_loss_backward(Zv, IDS, W; grad_scale = MEAN["grad_scale"], grad = :inplace)
    @test rv.grad === Zv
    @test near(Zbig[1:V, :], cols(MEAN["grad"], Float64), tol["grad"])
    @test all(Zbig[V+1:end, :] .== -7.0f0)

    # refused on the Julia side: vocabulary not unit-stride, not strided at all, not a CPU float type
    @test_throws ArgumentError select_steps(@view(Ebig[1:2:end, :]), A)
    @test_throws ArgumentError select_steps(view(E, :, [1, 3, 2, 4, 5, 6]), A)
    @test_throws ArgumentError select_steps(Float64.(E), A)
end

@testset "16-bit logits" begin
    @test reinterpret(UInt16, BFloat16(1.0f0)) == 0x3f80
    @test Float32(BFloat16(3.140625f0)) == 3.140625f0
    @test Float32(BFloat16(1.00390625f0)) == 1.0f0        # tie: to even
    @test Float32(BFloat16(1.01171875f0)) == 1.015625f0   # tie: to even
    @test Float32(BFloat16(Inf32)) == Inf32
    @test isnan(BFloat16(NaN32))
    @test BFloat16(2) == BFloat16(2.0)

    for H in (BFloat16, Float16)
        Eh, Ah, Zh = H.(E), H.(A), H.(Z)
        E32, A32, Z32 = Float32.(Eh), Float32.(Ah), Float32.(Zh)   # the same values in float32
        r = select_steps(Eh, Ah)
        r32 = select_steps(E32, A32)
        @test near(r.kl, r32.kl, 1e-5)
        @test r.keep == r32.keep
        bt = build_targets(Eh, Ah; k = K)
        bt32 = build_targets(E32, A32; k = K)
        @test bt.ids == bt32.ids
        @test near(bt.weights, bt32.weights, 1e-6)
        # mixed dtypes are allowed between expert and amateur
        @test near(select_steps(Eh, A32).kl, select_steps(E32, A32).kl, 1e-5)
        g = distill_loss_backward(Zh, IDS, W)
        g32 = distill_loss_backward(Z32, IDS, W)
        @test eltype(g.grad) === H
        @test near([g.loss], [g32.loss], 1e-5)
        @test near(Float32.(g.grad), g32.grad, 1e-2)     # the gradient is rounded to H
        Zi = copy(Zh)
        distill_loss_backward(Zi, IDS, W; grad = :inplace)
        @test near(Float32.(Zi), Float32.(g.grad), 1e-6)
    end
end

@testset "errors" begin
    err = try
        build_targets(E, A; k = K, beta = 0)
        nothing
    catch e
        e
    end
    @test err isa LightReasonerError
    @test err.status == LightReasoner.LR_ERR_INVALID_ARGUMENT
    @test occursin("beta", err.message)
    @test occursin("beta", sprint(showerror, err))
    @test occursin("LR_ERR_INVALID_ARGUMENT", sprint(showerror, err))
    @test_throws LightReasonerError select_and_build(E, A; k = K, beta = 0)
    @test_throws LightReasonerError select_steps(E, A; temperature = 0)
    err2 = try
        select_steps(E, A; shared_vocab = size(A, 1) + 1)
        nothing
    catch e
        e
    end
    @test err2 isa LightReasonerError && occursin("shared_vocab", err2.message)
    @test_throws LightReasonerError select_steps(E, A[:, 1:N-1])   # N differs
    # the library checks before writing: a failed in-place call leaves the logits as they were
    bad = copy(IDS)
    bad[1, 1] = Int32(size(Z, 1))   # token ids are in [-1, V)
    Zc = copy(Z)
    @test_throws LightReasonerError distill_loss_backward(Zc, bad, W; grad = :inplace)
    @test Zc == Z
    # and the next call succeeds
    @test select_steps(E, A).keep == Bool.(S["keep"])
end

@testset "sharded over the vocabulary (ABI 1.1)" begin
    Ve, Va = size(E, 1), size(A, 1)
    # token-id bounds of the expert's shards; the amateur's stop at Va
    for bounds in ([0, 4, Ve], [0, 1, 5, Va, Ve])
        pieces = [(lo, E[lo+1:hi, :], A[min(lo, Va)+1:min(hi, Va), :]) for (lo, hi) in zip(bounds[1:end-1], bounds[2:end])]
        stats = cat([shard_select_stats(e, a, vocab_shard(lo, Ve, Va)) for (lo, e, a) in pieces]...; dims = 3)
        @test size(stats) == (LightReasoner.LR_SHARD_SELECT_STATS, N, length(pieces))
        kl, keep = shard_select_finish(stats)
        want = select_steps(E, A)
        @test keep == want.keep
        @test near(kl, want.kl, 1e-5)
        rows = findall(keep)
        cands = cat([shard_target_candidates(e, a, vocab_shard(lo, Ve, Va), stats; k = K, rows = rows)
                     for (lo, e, a) in pieces]...; dims = 3)
        @test size(cands) == (LightReasoner.LR_SHARD_CANDIDATES(K), length(rows), length(pieces))
        t = shard_targets_finish(cands)
        w = build_targets(E, A; k = K, rows = rows)
        @test t.ids == w.ids
        @test t.support == w.support
        @test near(t.weights, w.weights, 1e-6)
        # stage 2 on the trained model's logits Z (V = 12): loss and each shard's gradient
        V = size(Z, 1)
        full = distill_loss_backward(Z, IDS, W; reduction = :none)
        zp = [(lo, Z[lo+1:hi, :]) for (lo, hi) in zip(bounds[1:end-1], bounds[2:end])]
        lstats = cat([shard_loss_stats(z, vocab_shard(lo, V), IDS, W) for (lo, z) in zp]...; dims = 3)
        for (lo, z) in zp
            got = shard_loss_backward(z, vocab_shard(lo, V), IDS, W, lstats; reduction = :none)
            @test near(got.loss, full.loss, 1e-5)
            @test near(got.grad, full.grad[lo+1:lo+size(z, 1), :], 1e-6)
            zc = copy(z)
            shard_loss_backward(zc, vocab_shard(lo, V), IDS, W, lstats; reduction = :none, grad = :inplace)
            @test zc == got.grad
        end
    end
    err = try
        shard_select_stats(E[1:4, :], A[1:4, :], vocab_shard(-1, size(E, 1), size(A, 1)))
        nothing
    catch e
        e
    end
    @test err isa LightReasonerError && err.status == LightReasoner.LR_ERR_INVALID_ARGUMENT
    @test_throws ArgumentError shard_select_finish(zeros(Float64, 6, N))          # not (width, N, W)
    @test_throws ArgumentError shard_targets_finish(zeros(Float32, 5, 2, 1))      # 5 is not 1 + 3k
end

end # testset
