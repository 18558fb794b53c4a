namespace Orchestrator.Worker.Data;

/// <summary>A data file is missing, truncated or malformed; the message names the file.</summary>
public sealed class DataFormatException(string path, string problem)
    : Exception($"{path}: {problem}")
{
    public string FilePath { get; } = path;
    public string Problem { get; } = problem;
}
