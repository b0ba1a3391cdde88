namespace sinan::kernels {}
