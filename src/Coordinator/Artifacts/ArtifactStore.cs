using System.Text.RegularExpressions;

namespace Orchestrator.Coordinator.Artifacts;

/// <summary>
/// Artifacts on disk: <c>{root}/{sweep}/{trial}/{name}</c>. Names are plain file names, validated so that no name
/// can reach outside its trial's directory; writes land in a temporary file renamed into place when complete.
/// </summary>
public sealed partial class ArtifactStore
{
    public const int MaxNameLength = 128;

    private readonly string _root;

    public ArtifactStore(string root, long maxBytes)
    {
        _root = Path.GetFullPath(root);
        MaxBytes = maxBytes;
        Directory.CreateDirectory(_root);
    }

    public long MaxBytes { get; }

    /// <summary>Throws <see cref="ArgumentException"/> with a message naming the problem unless <paramref name="name"/> is a plain file name.</summary>
    public static void ValidateName(string? name)
    {
        if (string.IsNullOrEmpty(name))
            throw new ArgumentException("artifact name is empty");
        if (name.Length > MaxNameLength)
            throw new ArgumentException($"artifact name '{name[..32]}...' is {name.Length} characters; the limit is {MaxNameLength}");
        if (name.Contains("..", StringComparison.Ordinal))
            throw new ArgumentException($"artifact name '{name}' contains '..'; names are plain file names");
        if (Path.IsPathRooted(name) || name.StartsWith('~'))
            throw new ArgumentException($"artifact name '{name}' is an absolute path; names are plain file names");
        if (name.Contains('/') || name.Contains('\\'))
            throw new ArgumentException($"artifact name '{name}' contains a path separator; names are plain file names");
        if (!NamePattern().IsMatch(name))
            throw new ArgumentException($"artifact name '{name}' has characters other than letters, digits, '.', '_' and '-', or does not start with a letter or digit");
    }

    /// <summary>Writes an artifact from <paramref name="chunks"/>; visible only once complete. Returns its size.</summary>
    public async Task<long> WriteAsync(string sweepId, int trial, string name, IAsyncEnumerable<ReadOnlyMemory<byte>> chunks, CancellationToken cancellationToken)
    {
        var path = PathOf(sweepId, trial, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = $"{path}.{Guid.NewGuid():N}.partial";
        long size = 0;
        try
        {
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                await foreach (var chunk in chunks.WithCancellation(cancellationToken))
                {
                    size += chunk.Length;
                    if (size > MaxBytes) throw new InvalidOperationException($"artifact '{name}' exceeds the limit of {MaxBytes} bytes");
                    await file.WriteAsync(chunk, cancellationToken);
                }
            }
            File.Move(temporary, path, overwrite: true);
            return size;
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    /// <summary>Opens an artifact for reading; throws <see cref="FileNotFoundException"/> when it is not there.</summary>
    public FileStream OpenRead(string sweepId, int trial, string name)
    {
        var path = PathOf(sweepId, trial, name);
        if (!File.Exists(path)) throw new FileNotFoundException($"artifact '{name}' of trial {trial} of sweep {sweepId} does not exist");
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
    }

    public void Delete(string sweepId, int trial, string name)
    {
        var path = PathOf(sweepId, trial, name);
        if (File.Exists(path)) File.Delete(path);
    }

    private string PathOf(string sweepId, int trial, string name)
    {
        ValidateName(name);
        ValidateName(sweepId);
        ArgumentOutOfRangeException.ThrowIfNegative(trial);
        var path = Path.GetFullPath(Path.Combine(_root, sweepId, trial.ToString(System.Globalization.CultureInfo.InvariantCulture), name));
        // Belt and braces: validation already rules this out.
        if (!path.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new ArgumentException($"artifact name '{name}' leaves the artifact directory");
        return path;
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex NamePattern();
}
