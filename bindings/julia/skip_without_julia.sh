#!/bin/sh
# ctest julia_binding_tests where no `julia` is on PATH: say so and report a skip (77).
echo "julia not found: the Julia binding is not tested in this build"
exit 77
