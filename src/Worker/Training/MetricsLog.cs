using System.Text;
using System.Text.Json;

namespace Orchestrator.Worker.Training;

/// <summary>
/// metrics.jsonl: one JSON object per logged step and per evaluation, appended and flushed line by line.
/// On resume the lines past the checkpoint's step are dropped, since those steps are about to be redone.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    private readonly FileStream _file;
    private readonly Utf8JsonWriter _json;

    public MetricsLog(string path, int resumeStep)
    {
        if (resumeStep > 0 && File.Exists(path)) TruncateAfter(path, resumeStep);
        else if (resumeStep == 0 && File.Exists(path)) File.Delete(path);
        _file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        _json = new Utf8JsonWriter(_file);
    }

    /// <summary>Writes one line: {"type": type, "step": step, ...fields}.</summary>
    public void Write(string type, int step, IEnumerable<KeyValuePair<string, double>> fields)
    {
        _json.Reset(_file);
        _json.WriteStartObject();
        _json.WriteString("type", type);
        _json.WriteNumber("step", step);
        _json.WriteString("time", DateTimeOffset.UtcNow);
        foreach (var (key, value) in fields)
        {
            if (double.IsFinite(value)) _json.WriteNumber(key, value);
            else _json.WriteString(key, value.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        _json.WriteEndObject();
        _json.Flush();
        _file.WriteByte((byte)'\n');
        _file.Flush();
    }

    private static void TruncateAfter(string path, int step)
    {
        var kept = new StringBuilder();
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0) continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.TryGetProperty("step", out var s) && s.GetInt32() > step) continue;
            }
            catch (JsonException)
            {
                continue; // a line cut short by a kill
            }
            kept.Append(line).Append('\n');
        }
        RunDirectory.WriteAtomically(path, stream => stream.Write(Encoding.UTF8.GetBytes(kept.ToString())));
    }

    public void Dispose()
    {
        _json.Dispose();
        _file.Dispose();
    }
}
