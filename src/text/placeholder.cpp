namespace sinan::text {}
