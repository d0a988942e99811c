/* Prints the C layout (sizeof and the offset of every field, in declaration
 * order) of each struct that the Julia binding mirrors, one line each:
 *   NAME SIZE OFF1,OFF2,...
 * check_layout.cmake compares these lines with the _C_LAYOUT table in
 * LightReasoner/src/LightReasoner.jl, so a Julia mirror that drifts from the
 * header fails ctest even where no Julia toolchain is installed. Lines
 *   constant NAME VALUE
 * give the header's constants, compared with `const NAME = VALUE` there. */
#include <lightreasoner/lightreasoner.h>
#include <stddef.h>
#include <stdio.h>

#define P(name, ...) print_layout(#name, sizeof(name), (size_t[]){__VA_ARGS__}, \
                                  sizeof((size_t[]){__VA_ARGS__}) / sizeof(size_t))

static void print_layout(const char* name, size_t size, const size_t* offsets, size_t n) {
  printf("%s %zu ", name, size);
  for (size_t i = 0; i < n; ++i) printf("%s%zu", i ? "," : "", offsets[i]);
  printf("\n");
}

int main(void) {
  P(DLDevice, offsetof(DLDevice, device_type), offsetof(DLDevice, device_id));
  P(DLDataType, offsetof(DLDataType, code), offsetof(DLDataType, bits), offsetof(DLDataType, lanes));
  P(DLTensor, offsetof(DLTensor, data), offsetof(DLTensor, device), offsetof(DLTensor, ndim),
    offsetof(DLTensor, dtype), offsetof(DLTensor, shape), offsetof(DLTensor, strides),
    offsetof(DLTensor, byte_offset));
  P(lr_select_params, offsetof(lr_select_params, struct_size), offsetof(lr_select_params, kl_threshold),
    offsetof(lr_select_params, temperature), offsetof(lr_select_params, shared_vocab));
  P(lr_target_params, offsetof(lr_target_params, struct_size), offsetof(lr_target_params, beta),
    offsetof(lr_target_params, temperature), offsetof(lr_target_params, shared_vocab));
  P(lr_loss_params, offsetof(lr_loss_params, struct_size), offsetof(lr_loss_params, reduction),
    offsetof(lr_loss_params, grad_scale), offsetof(lr_loss_params, temperature));
  P(lr_vocab_shard, offsetof(lr_vocab_shard, struct_size), offsetof(lr_vocab_shard, column_offset),
    offsetof(lr_vocab_shard, expert_vocab), offsetof(lr_vocab_shard, amateur_vocab));
  /* the header's constants the Julia binding restates (`const NAME = value` there) */
  printf("constant LR_ABI_VERSION_MAJOR %d\n", LR_ABI_VERSION_MAJOR);
  printf("constant LR_ABI_VERSION_MINOR %d\n", LR_ABI_VERSION_MINOR);
  printf("constant LR_SHARD_SELECT_STATS %d\n", LR_SHARD_SELECT_STATS);
  printf("constant LR_SHARD_LOSS_STATS %d\n", LR_SHARD_LOSS_STATS);
  printf("constant LR_SHARD_CANDIDATES_BASE %d\n", LR_SHARD_CANDIDATES(0));
  printf("constant LR_SHARD_CANDIDATES_PER_K %d\n", LR_SHARD_CANDIDATES(1) - LR_SHARD_CANDIDATES(0));
  /* sizes of the scalar types the Julia mirrors assume (Cint, UInt32) */
  printf("enum_sizes %zu %zu,%zu\n", sizeof(lr_status), sizeof(lr_reduction), sizeof(DLDeviceType));
  return 0;
}
