using System.Globalization;
using Google.Protobuf;
using Orchestrator.Shared.Protos;

namespace Orchestrator.Cli.Remote;

/// <summary>How the remote commands show states and numbers.</summary>
public static class Formats
{
    public static readonly JsonFormatter Json = new(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true).WithFormatDefaultValues(true));

    public static string State(SweepState s) => s.ToString().ToLowerInvariant();

    public static string State(TrialState s) => s switch
    {
        TrialState.StoppedEarly => "stopped_early",
        _ => s.ToString().ToLowerInvariant(),
    };

    public static string Color(TrialState s) => s switch
    {
        TrialState.Completed => "green",
        TrialState.Running => "blue",
        TrialState.Queued => "grey",
        TrialState.StoppedEarly => "yellow",
        _ => "red",
    };

    public static string Number(double? value) => value is { } v ? v.ToString("G5", CultureInfo.InvariantCulture) : "-";

    public static string Parameters(TrialSummary t) => string.Join(" ", t.Parameters.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));
}
