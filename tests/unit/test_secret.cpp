// Secret: the owning type for passwords and keys. Never copied by accident, moved by
// handing its buffer over, and every buffer it gives back is wiped first, which an
// allocator that records the bytes of each block it is given back shows.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "compat/seal.h"
#include "engine/options.h"
#include "engine/secret.h"

namespace {

using mmc::engine::BasicSecret;
using mmc::engine::Secret;

static_assert(!std::is_copy_constructible_v<Secret>);
static_assert(!std::is_copy_assignable_v<Secret>);
static_assert(std::is_nothrow_move_constructible_v<Secret>);
static_assert(std::is_nothrow_move_assignable_v<Secret>);
// What holds a Secret is not copied by accident either, and moves without throwing, so
// a growing vector moves its elements rather than copying them.
static_assert(!std::is_copy_constructible_v<mmc::engine::Credentials>);
static_assert(!std::is_copy_constructible_v<mmc::compat::seal::Key>);
static_assert(std::is_nothrow_move_constructible_v<mmc::compat::seal::Key>);

// The content of every block given back, at the moment it is given back.
std::vector<std::string>& freed() {
    static std::vector<std::string> blocks;
    return blocks;
}

template <class T>
struct RecordingAllocator {
    using value_type = T;
    RecordingAllocator() = default;
    template <class U>
    RecordingAllocator(const RecordingAllocator<U>&) noexcept {}
    T* allocate(std::size_t n) { return std::allocator<T>().allocate(n); }
    void deallocate(T* p, std::size_t n) noexcept {
        freed().emplace_back(reinterpret_cast<const char*>(p), n * sizeof(T));
        std::allocator<T>().deallocate(p, n);
    }
    template <class U>
    bool operator==(const RecordingAllocator<U>&) const noexcept { return true; }
    template <class U>
    bool operator!=(const RecordingAllocator<U>&) const noexcept { return false; }
};

using Recorded = BasicSecret<RecordingAllocator<char>>;

class SecretMemory : public ::testing::Test {
protected:
    void SetUp() override { freed().clear(); }
    static bool all_zero(const std::string& block) { return block.find_first_not_of('\0') == std::string::npos; }
};

TEST_F(SecretMemory, DestructionWipesTheBytesBeforeGivingThemBack) {
    { Recorded s(std::string_view("hunter2")); }
    ASSERT_EQ(freed().size(), 1u);
    EXPECT_EQ(freed()[0], std::string(7, '\0'));
}

TEST_F(SecretMemory, AMoveHandsTheBufferOverAndLeavesTheSourceEmpty) {
    Recorded a(std::string_view("hunter2"));
    const char* buffer = a.data();
    Recorded b(std::move(a));
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the contract under test
    EXPECT_EQ(a.data(), nullptr);
    EXPECT_EQ(b.data(), buffer) << "the same buffer: no copy was made";
    EXPECT_EQ(b.view(), "hunter2");
    EXPECT_TRUE(freed().empty());
    b.clear();
    ASSERT_EQ(freed().size(), 1u);
    EXPECT_TRUE(all_zero(freed()[0]));
}

TEST_F(SecretMemory, ReassignmentWipesTheBytesItReplaces) {
    Recorded s(std::string_view("old-secret"));
    s = Recorded(std::string_view("new"));
    ASSERT_EQ(freed().size(), 1u);
    EXPECT_EQ(freed()[0], std::string(10, '\0'));
    EXPECT_EQ(s.view(), "new");
}

TEST_F(SecretMemory, MovedFromObjectsGiveBackNothingWhenTheyGo) {
    { Recorded moved_to(Recorded(std::string_view("abc"))); }
    ASSERT_EQ(freed().size(), 1u) << "one buffer, given back once, by its last owner";
    EXPECT_TRUE(all_zero(freed()[0]));
}

TEST_F(SecretMemory, AGrowingVectorMovesSecretsAndLeavesNoBytesBehind) {
    {
        std::vector<Recorded> v;
        for (int i = 0; i < 100; ++i) v.emplace_back(std::string_view("key-material-" + std::to_string(i)));
        EXPECT_TRUE(freed().empty()) << "growth moved the buffers rather than copying them";
    }
    ASSERT_EQ(freed().size(), 100u);
    for (const std::string& block : freed()) EXPECT_TRUE(all_zero(block));
}

TEST_F(SecretMemory, CloneIsAnIndependentOwner) {
    Recorded a(std::string_view("pw"));
    Recorded b = a.clone();
    EXPECT_NE(a.data(), b.data());
    a.clear();
    EXPECT_EQ(b.view(), "pw");
}

TEST(Secret, ASizedSecretStartsZeroed) {
    Secret s(std::size_t{32});
    EXPECT_EQ(s.size(), 32u);
    EXPECT_EQ(s.view(), std::string(32, '\0'));
}

}  // namespace
