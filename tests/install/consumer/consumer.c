/*
 * A plain C11 consumer of an installed liblightreasoner: calls every entry
 * point on tiny hand-made float32 tensors and checks the results against
 * values computed here in double with <math.h>. Exits non-zero with a
 * message on any mismatch.
 */
#include <lightreasoner/lightreasoner.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;

#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (!(cond)) {                                         \
      fprintf(stderr, "consumer: FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                        \
      fprintf(stderr, "\n");                               \
      ++failures;                                          \
    }                                                      \
  } while (0)

#define CHECK_OK(call)                                                        \
  do {                                                                        \
    lr_status st_ = (call);                                                   \
    CHECK(st_ == LR_OK, "%s returned %s: %s", #call, lr_status_string(st_),   \
          lr_last_error());                                                   \
  } while (0)

static int close_to(double got, double want) {
  return fabs(got - want) <= 1e-5 + 1e-5 * fabs(want);
}

static DLTensor tensor(void* data, uint8_t code, uint8_t bits, int32_t ndim, int64_t* shape,
                       int64_t* strides) {
  DLTensor t;
  memset(&t, 0, sizeof t);
  t.data = data;
  t.device.device_type = kDLCPU;
  t.device.device_id = 0;
  t.ndim = ndim;
  t.dtype.code = code;
  t.dtype.bits = bits;
  t.dtype.lanes = 1;
  t.shape = shape;
  t.strides = strides;
  t.byte_offset = 0;
  return t;
}

/* log of the sum of exp over n values. */
static double log_sum_exp(const float* z, int n) {
  double m = z[0], s = 0.0;
  int j;
  for (j = 1; j < n; ++j)
    if (z[j] > m) m = z[j];
  for (j = 0; j < n; ++j) s += exp((double)z[j] - m);
  return m + log(s);
}

static double kl_rows(const float* e, const float* a, int n) {
  double le = log_sum_exp(e, n), la = log_sum_exp(a, n), kl = 0.0;
  int j;
  for (j = 0; j < n; ++j) {
    double lpe = e[j] - le, lpa = a[j] - la;
    kl += exp(lpe) * (lpe - lpa);
  }
  return kl;
}

enum { N = 2, V = 3, K = 3, PADDED = 5 };

int main(void) {
  /* ------------------------------------------------ library facts */
  uint32_t abi = lr_abi_version();
  const char* info = lr_build_info();
  printf("consumer: ABI %u.%u, build info: %s\n", (unsigned)(abi >> 16), (unsigned)(abi & 0xFFFFu),
         info ? info : "(null)");
  CHECK((abi >> 16) == LR_ABI_VERSION_MAJOR, "ABI major %u, header %d", (unsigned)(abi >> 16),
        LR_ABI_VERSION_MAJOR);
  CHECK(info != NULL && info[0] != '\0', "lr_build_info() empty");
  CHECK(strcmp(lr_status_string(LR_OK), "LR_OK") == 0, "lr_status_string(LR_OK) = %s",
        lr_status_string(LR_OK));

  /* Row 0: expert (2, 0, -1), amateur (0, 2, -1): KL = 2 (pE0 - pE1) ~ 1.459,
   *        kept at kappa 0.4; the log-ratio c is (+2, -2, 0).
   * Row 1: expert (1, 1, 0), amateur (1, 1, 0.5): KL ~ 0.018, not kept.
   * The expert is a view into a buffer with 5 columns per row whose extra
   * columns are NaN: they must not be read. */
  const float e_rows[N][V] = {{2.0f, 0.0f, -1.0f}, {1.0f, 1.0f, 0.0f}};
  const float a_rows[N][V] = {{0.0f, 2.0f, -1.0f}, {1.0f, 1.0f, 0.5f}};
  float expert_buf[N * PADDED];
  float amateur_buf[N * V];
  int i, j, k;
  for (i = 0; i < N; ++i) {
    for (j = 0; j < PADDED; ++j) expert_buf[i * PADDED + j] = j < V ? e_rows[i][j] : NAN;
    for (j = 0; j < V; ++j) amateur_buf[i * V + j] = a_rows[i][j];
  }
  int64_t logit_shape[2] = {N, V};
  int64_t expert_strides[2] = {PADDED, 1};
  DLTensor expert = tensor(expert_buf, kDLFloat, 32, 2, logit_shape, expert_strides);
  DLTensor amateur = tensor(amateur_buf, kDLFloat, 32, 2, logit_shape, NULL);

  double kl_want[N];
  for (i = 0; i < N; ++i) kl_want[i] = kl_rows(e_rows[i], a_rows[i], V);

  /* ------------------------------------------------ lr_select_steps */
  float kl[N] = {-1.0f, -1.0f};
  uint8_t keep[N] = {7, 7};
  int64_t n_shape[1] = {N};
  DLTensor kl_t = tensor(kl, kDLFloat, 32, 1, n_shape, NULL);
  DLTensor keep_t = tensor(keep, kDLUInt, 8, 1, n_shape, NULL);
  CHECK_OK(lr_select_steps(&expert, &amateur, NULL, &kl_t, &keep_t, NULL));
  CHECK(strcmp(lr_last_error(), "") == 0, "lr_last_error() after success: \"%s\"", lr_last_error());
  for (i = 0; i < N; ++i) {
    CHECK(close_to(kl[i], kl_want[i]), "select: kl[%d] = %.8g, want %.8g", i, kl[i], kl_want[i]);
    CHECK(keep[i] == (kl_want[i] > 0.4), "select: keep[%d] = %u", i, (unsigned)keep[i]);
  }
  CHECK(keep[0] == 1 && keep[1] == 0, "select: keep = {%u, %u}, want {1, 0}", (unsigned)keep[0],
        (unsigned)keep[1]);

  /* ------------------------------------------------ lr_build_targets */
  /* Row 0 with beta 0.1: p_E(1) / max p_E = e^-2 ~ 0.135 >= 0.1, e^-3 < 0.1,
   * so the support is {0, 1} and v = softmax(+2, -2) = (1/(1+e^-4), ...). */
  lr_target_params tparams = lr_target_params_default();
  tparams.beta = 0.1f;
  const double v0 = 1.0 / (1.0 + exp(-4.0)), v1 = 1.0 - v0;
  int64_t rows[1] = {0};
  int64_t m_shape[1] = {1};
  int64_t mk_shape[2] = {1, K};
  int32_t ids[K] = {99, 99, 99};
  float weights[K] = {-1.0f, -1.0f, -1.0f};
  int32_t support[1] = {99};
  DLTensor rows_t = tensor(rows, kDLInt, 64, 1, m_shape, NULL);
  DLTensor ids_t = tensor(ids, kDLInt, 32, 2, mk_shape, NULL);
  DLTensor w_t = tensor(weights, kDLFloat, 32, 2, mk_shape, NULL);
  DLTensor sup_t = tensor(support, kDLInt, 32, 1, m_shape, NULL);
  CHECK_OK(lr_build_targets(&expert, &amateur, &rows_t, &tparams, &ids_t, &w_t, &sup_t, NULL));
  CHECK(support[0] == 2, "build: support_size = %d, want 2", support[0]);
  CHECK(ids[0] == 0 && ids[1] == 1 && ids[2] == -1, "build: ids = {%d, %d, %d}, want {0, 1, -1}", ids[0],
        ids[1], ids[2]);
  CHECK(close_to(weights[0], v0) && close_to(weights[1], v1) && weights[2] == 0.0f,
        "build: weights = {%.8g, %.8g, %.8g}, want {%.8g, %.8g, 0}", weights[0], weights[1], weights[2], v0,
        v1);

  /* ------------------------------------------------ lr_select_and_build */
  lr_select_params sparams = lr_select_params_default();
  int64_t nk_shape[2] = {N, K};
  int32_t all_ids[N * K];
  float all_w[N * K];
  int32_t all_sup[N] = {99, 99};
  for (k = 0; k < N * K; ++k) { all_ids[k] = 99; all_w[k] = -1.0f; }
  memset(kl, 0xFF, sizeof kl);
  memset(keep, 7, sizeof keep);
  DLTensor all_ids_t = tensor(all_ids, kDLInt, 32, 2, nk_shape, NULL);
  DLTensor all_w_t = tensor(all_w, kDLFloat, 32, 2, nk_shape, NULL);
  DLTensor all_sup_t = tensor(all_sup, kDLInt, 32, 1, n_shape, NULL);
  CHECK_OK(lr_select_and_build(&expert, &amateur, &sparams, &tparams, &kl_t, &keep_t, &all_ids_t, &all_w_t,
                               &all_sup_t, NULL));
  for (i = 0; i < N; ++i)
    CHECK(close_to(kl[i], kl_want[i]), "fused: kl[%d] = %.8g, want %.8g", i, kl[i], kl_want[i]);
  CHECK(keep[0] == 1 && keep[1] == 0, "fused: keep = {%u, %u}", (unsigned)keep[0], (unsigned)keep[1]);
  CHECK(all_sup[0] == 2 && all_sup[1] == 0, "fused: support = {%d, %d}, want {2, 0}", all_sup[0], all_sup[1]);
  CHECK(all_ids[0] == 0 && all_ids[1] == 1 && all_ids[2] == -1, "fused: row 0 ids {%d, %d, %d}", all_ids[0],
        all_ids[1], all_ids[2]);
  CHECK(close_to(all_w[0], v0) && close_to(all_w[1], v1) && all_w[2] == 0.0f,
        "fused: row 0 weights {%.8g, %.8g, %.8g}", all_w[0], all_w[1], all_w[2]);
  for (k = 0; k < K; ++k)
    CHECK(all_ids[K + k] == -1 && all_w[K + k] == 0.0f, "fused: row 1 (not kept) slot %d = (%d, %g)", k,
          all_ids[K + k], all_w[K + k]);

  /* ------------------------------------------------ lr_distill_loss_backward */
  /* Row 0: one-hot on id 2: loss = -log softmax(z0)[2], grad = q - onehot.
   * Row 1: half on id 0, half on id 1: loss = log 0.5 - 0.5 (log q0 + log q1). */
  float z[N * V] = {0.5f, -1.0f, 1.5f, 2.0f, 0.0f, -0.5f};
  float z_copy[N * V];
  int32_t t_ids[N * K] = {2, -1, -1, 0, 1, -1};
  float t_w[N * K] = {1.0f, 0.0f, 0.0f, 0.5f, 0.5f, 0.0f};
  double loss_want[N], grad_want[N * V];
  for (i = 0; i < N; ++i) {
    double lse = log_sum_exp(&z[i * V], V), l = 0.0;
    for (j = 0; j < V; ++j) grad_want[i * V + j] = exp(z[i * V + j] - lse);
    for (k = 0; k < K; ++k) {
      int32_t id = t_ids[i * K + k];
      double w = t_w[i * K + k];
      if (id < 0 || w == 0.0) continue;
      l += w * log(w) - w * (z[i * V + id] - lse);
      grad_want[i * V + id] -= w;
    }
    loss_want[i] = l;
  }
  CHECK(close_to(loss_want[0], -(1.5 - log_sum_exp(z, V))), "hand check of the one-hot loss");
  memcpy(z_copy, z, sizeof z);
  DLTensor z_t = tensor(z, kDLFloat, 32, 2, logit_shape, NULL);
  DLTensor tid_t = tensor(t_ids, kDLInt, 32, 2, nk_shape, NULL);
  DLTensor tw_t = tensor(t_w, kDLFloat, 32, 2, nk_shape, NULL);
  float loss_none[N] = {-7.0f, -7.0f};
  float grad[N * V];
  memset(grad, 0xFF, sizeof grad);
  DLTensor loss_none_t = tensor(loss_none, kDLFloat, 32, 1, n_shape, NULL);
  DLTensor grad_t = tensor(grad, kDLFloat, 32, 2, logit_shape, NULL);
  lr_loss_params lparams = lr_loss_params_default();
  lparams.reduction = LR_REDUCTION_NONE;
  CHECK_OK(lr_distill_loss_backward(&z_t, &tid_t, &tw_t, &lparams, &loss_none_t, &grad_t, NULL));
  for (i = 0; i < N; ++i)
    CHECK(close_to(loss_none[i], loss_want[i]), "loss NONE: loss[%d] = %.8g, want %.8g", i, loss_none[i],
          loss_want[i]);
  for (j = 0; j < N * V; ++j)
    CHECK(close_to(grad[j], grad_want[j]), "loss NONE: grad[%d] = %.8g, want %.8g", j, grad[j], grad_want[j]);

  /* MEAN (the default) over the 2 counted rows, gradient in place over z. */
  float loss_mean = -7.0f;
  DLTensor loss_mean_t = tensor(&loss_mean, kDLFloat, 32, 0, NULL, NULL);
  CHECK_OK(lr_distill_loss_backward(&z_t, &tid_t, &tw_t, NULL, &loss_mean_t, &z_t, NULL));
  CHECK(close_to(loss_mean, 0.5 * (loss_want[0] + loss_want[1])), "loss MEAN = %.8g, want %.8g", loss_mean,
        0.5 * (loss_want[0] + loss_want[1]));
  for (j = 0; j < N * V; ++j)
    CHECK(close_to(z[j], 0.5 * grad_want[j]), "loss MEAN in place: grad[%d] = %.8g, want %.8g", j, z[j],
          0.5 * grad_want[j]);

  /* ------------------------------------------------ a deliberate fault */
  memcpy(z, z_copy, sizeof z);
  loss_mean = -7.0f;
  lr_status st = lr_distill_loss_backward(NULL, &tid_t, &tw_t, NULL, &loss_mean_t, NULL, NULL);
  const char* err = lr_last_error();
  printf("consumer: deliberate fault -> %s: %s\n", lr_status_string(st), err ? err : "(null)");
  CHECK(st == LR_ERR_INVALID_ARGUMENT, "NULL logits gave %s", lr_status_string(st));
  CHECK(err != NULL && strstr(err, "logits") != NULL, "lr_last_error() does not name logits: \"%s\"",
        err ? err : "(null)");
  CHECK(loss_mean == -7.0f, "a failed call wrote loss_out");
  CHECK_OK(lr_select_steps(&expert, &amateur, NULL, &kl_t, NULL, NULL));
  CHECK(strcmp(lr_last_error(), "") == 0, "lr_last_error() not reset by a success");

  if (failures) {
    fprintf(stderr, "consumer: %d check(s) failed\n", failures);
    return 1;
  }
  printf("consumer: all checks passed (KL %.6f %.6f, loss %.6f %.6f)\n", kl_want[0], kl_want[1], loss_want[0],
         loss_want[1]);
  return 0;
}
