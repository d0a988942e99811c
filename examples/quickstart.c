/* The README's quick start: stage 1 and stage 2 on a toy batch. */
#include <lightreasoner/lightreasoner.h>
#include <stdio.h>

int main(void) {
  /* two positions, a 4-token vocabulary */
  float expert[2][4]  = {{4, 1, 0, 0}, {2, 2, 0, 0}};
  float amateur[2][4] = {{0, 3, 0, 0}, {2, 2, 0, 0}};
  int64_t shape[2] = {2, 4}, n[1] = {2}, nk[2] = {2, 2};
  DLTensor e = {expert, {kDLCPU, 0}, 2, {kDLFloat, 32, 1}, shape, NULL, 0};
  DLTensor a = {amateur, {kDLCPU, 0}, 2, {kDLFloat, 32, 1}, shape, NULL, 0};

  float kl[2]; uint8_t keep[2];
  DLTensor kl_t = {kl, {kDLCPU, 0}, 1, {kDLFloat, 32, 1}, n, NULL, 0};
  DLTensor keep_t = {keep, {kDLCPU, 0}, 1, {kDLUInt, 8, 1}, n, NULL, 0};
  lr_select_params sp = lr_select_params_default();            /* kappa = 0.4 */
  if (lr_select_steps(&e, &a, &sp, &kl_t, &keep_t, NULL) != LR_OK) {
    fprintf(stderr, "%s\n", lr_last_error());
    return 1;
  }

  int32_t ids[2][2]; float w[2][2]; int32_t support[2];
  DLTensor ids_t = {ids, {kDLCPU, 0}, 2, {kDLInt, 32, 1}, nk, NULL, 0};
  DLTensor w_t = {w, {kDLCPU, 0}, 2, {kDLFloat, 32, 1}, nk, NULL, 0};
  DLTensor s_t = {support, {kDLCPU, 0}, 1, {kDLInt, 32, 1}, n, NULL, 0};
  lr_build_targets(&e, &a, NULL, NULL, &ids_t, &w_t, &s_t, NULL);  /* beta = 0.2, all rows */

  for (int i = 0; i < 2; ++i)
    printf("row %d: KL %.3f keep %d  target {%d: %.3f, %d: %.3f}  |M| = %d\n", i, kl[i], keep[i],
           ids[i][0], w[i][0], ids[i][1], w[i][1], support[i]);

  /* stage 2: the expert's logits at those positions, gradient in place */
  float loss;
  DLTensor loss_t = {&loss, {kDLCPU, 0}, 0, {kDLFloat, 32, 1}, NULL, NULL, 0};
  lr_loss_params lp = lr_loss_params_default();                /* MEAN over rows */
  lr_distill_loss_backward(&e, &ids_t, &w_t, &lp, &loss_t, &e, NULL);
  printf("loss %.4f, d loss / d z[0][0] = %.4f\n", loss, expert[0][0]);
  return 0;
}
