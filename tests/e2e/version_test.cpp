// `sinan --version` through the real binary: the version, the kernel path this CPU runs and the
// processor, as base/cpu.h reads them in this process.
#include <gtest/gtest.h>

#include "base/cpu.h"
#include "run_binary.h"

namespace sinan::test {
namespace {

TEST(VersionFlag, NamesTheKernelPathAndTheProcessor) {
    const RunResult r = run_sinan({"--version"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "sinan 0.1.0, cpu: " + cpu::describe() + " on " + cpu::describe_processor() + "\n");
}

}  // namespace
}  // namespace sinan::test
