namespace Orchestrator.Worker.Training;

/// <summary>
/// The layout of one run's output: trial.yaml, metrics.jsonl, checkpoints/step-NNNNNNNN.ckpt, samples/*.png,
/// summary.json. Files are written through a temp file and a rename, so a killed run never leaves half a file.
/// </summary>
public sealed class RunDirectory
{
    public RunDirectory(string root)
    {
        Root = Path.GetFullPath(root);
    }

    public string Root { get; }
    public string TrialFile => Path.Combine(Root, "trial.yaml");
    public string MetricsFile => Path.Combine(Root, "metrics.jsonl");
    public string SummaryFile => Path.Combine(Root, "summary.json");
    public string CheckpointDirectory => Path.Combine(Root, "checkpoints");
    public string SampleDirectory => Path.Combine(Root, "samples");

    /// <summary>Whether a run already lives here (so a fresh start would overwrite it).</summary>
    public bool HoldsRun => File.Exists(TrialFile) || Checkpoints().Count > 0;

    public void Create()
    {
        Directory.CreateDirectory(Root);
        Directory.CreateDirectory(CheckpointDirectory);
        Directory.CreateDirectory(SampleDirectory);
    }

    public string CheckpointPath(int step) => Path.Combine(CheckpointDirectory, $"step-{step:D8}.ckpt");

    public string SamplePath(int step) => Path.Combine(SampleDirectory, $"step-{step:D8}.png");

    /// <summary>Complete checkpoints, newest first (temp files of an interrupted write are ignored).</summary>
    public IReadOnlyList<(int Step, string Path)> Checkpoints()
    {
        if (!Directory.Exists(CheckpointDirectory)) return [];
        var found = new List<(int, string)>();
        foreach (var path in Directory.EnumerateFiles(CheckpointDirectory, "step-*.ckpt"))
        {
            var name = Path.GetFileNameWithoutExtension(path);
            if (int.TryParse(name.AsSpan(5), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var step))
                found.Add((step, path));
        }
        found.Sort((a, b) => b.Item1.CompareTo(a.Item1));
        return found;
    }

    /// <summary>Writes a file atomically: the content goes to a temp file that is flushed to disk, then renamed.</summary>
    public static void WriteAtomically(string path, Action<Stream> write)
    {
        var temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            write(file);
            file.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }
}
