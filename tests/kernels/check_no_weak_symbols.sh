#!/bin/sh
# Fails when an object file compiled with SIMD flags defines a weak (inline / template, COMDAT)
# symbol: the linker may keep that AVX copy for every caller, and the binary would then crash on
# CPUs without AVX (src/kernels/half.h). Usage: check_no_weak_symbols.sh OBJECT...
status=0
for o in "$@"; do
    weak=$(nm -C "$o" | grep -E '^[0-9a-f]* [WVu] ')
    if [ -n "$weak" ]; then
        echo "$o defines weak symbols:"
        echo "$weak"
        status=1
    fi
done
[ $status -eq 0 ] && echo "no weak symbols in $# SIMD object files"
exit $status
