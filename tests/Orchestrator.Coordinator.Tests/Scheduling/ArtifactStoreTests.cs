using Orchestrator.Coordinator.Artifacts;

namespace Orchestrator.Coordinator.Tests.Scheduling;

public sealed class ArtifactStoreTests
{
    [Theory]
    [InlineData("../secret", "..")]
    [InlineData("a..b", "..")]
    [InlineData("/etc/passwd", "absolute")]
    [InlineData("dir/file.ckpt", "separator")]
    [InlineData("dir\\file.ckpt", "separator")]
    [InlineData("", "empty")]
    [InlineData(".hidden", "letters, digits")]
    [InlineData("name with space", "letters, digits")]
    public void Names_that_could_leave_the_store_are_refused_with_a_clear_error(string name, string expected)
    {
        var error = Assert.Throws<ArgumentException>(() => ArtifactStore.ValidateName(name));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Over_long_names_are_refused() =>
        Assert.Contains("limit", Assert.Throws<ArgumentException>(() => ArtifactStore.ValidateName(new string('a', 200))).Message, StringComparison.Ordinal);

    [Fact]
    public async Task Writes_become_visible_complete_and_read_back()
    {
        var root = Directory.CreateTempSubdirectory("artifacts-").FullName;
        try
        {
            var store = new ArtifactStore(root, maxBytes: 1 << 20);
            var size = await store.WriteAsync("sw-0123456789ab", 3, "checkpoint-000000010.ckpt", Chunks(), CancellationToken.None);
            Assert.Equal(6, size);
            await using var file = store.OpenRead("sw-0123456789ab", 3, "checkpoint-000000010.ckpt");
            Assert.Equal(6, file.Length);
            Assert.Empty(Directory.GetFiles(root, "*.partial", SearchOption.AllDirectories));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }

        static async IAsyncEnumerable<ReadOnlyMemory<byte>> Chunks()
        {
            yield return new byte[] { 1, 2, 3 };
            await Task.Yield();
            yield return new byte[] { 4, 5, 6 };
        }
    }
}
