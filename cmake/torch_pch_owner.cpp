// The unit of lr_torch_pch_pic / lr_torch_pch_default (cmake/TorchPrecompiledHeader.cmake):
// empty, so that building it builds the shared precompiled <torch/torch.h>.
