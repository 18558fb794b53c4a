using Orchestrator.Deploy.Tests.Rendering;

namespace Orchestrator.Deploy.Tests;

/// <summary>Tokens are generated where the cluster is deployed from, never committed.</summary>
[Collection(ManifestsCollection.Name)]
public sealed class SecretTests(Manifests manifests)
{
    [Fact]
    public void No_committed_manifest_holds_a_secret()
    {
        var tracked = Manifests.Run("git", "-C", Repository.Root, "ls-files", "k8s").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.DoesNotContain(tracked, f => f.StartsWith("k8s/base/secrets/", StringComparison.Ordinal) && f != "k8s/base/secrets/.gitignore");
        foreach (var file in tracked.Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal)))
        {
            foreach (var document in Yaml.LoadDocuments(File.ReadAllText(Repository.PathOf(file)), file))
                Assert.False(document.Str("kind") == "Secret", $"{file} commits a Secret");
        }
    }

    [Fact]
    public void Generated_tokens_are_random_without_a_trailing_newline_and_kept_on_rerun()
    {
        var files = new[] { "api-token", "join-token", "grafana-admin-password" }.Select(f => Path.Combine(manifests.SecretsDirectory, f)).ToList();
        var values = files.Select(File.ReadAllText).ToList();
        Assert.All(values, v => Assert.True(v.Length >= 32 && !v.EndsWith('\n'), "a short token or one ending in a newline"));
        Assert.Equal(values.Count, values.Distinct().Count());
        Manifests.Run("bash", Path.Combine(manifests.CopyRoot, "generate-secrets.sh"), manifests.SecretsDirectory);
        Assert.Equal(values, files.Select(File.ReadAllText));

        var tokens = manifests["base"].Generated("Secret", "orchestrator-tokens").Map("data")!;
        Assert.Equal(values[0], System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(tokens.Str("api-token")!)));
    }
}
