namespace Orchestrator.Coordinator.Dashboard;

/// <summary>Section <c>Orchestrator:Dashboard</c>.</summary>
public sealed class DashboardOptions
{
    public const string Section = "Orchestrator:Dashboard";

    /// <summary>A trace UI URL with <c>{traceId}</c> (e.g. Jaeger: <c>http://jaeger:16686/trace/{traceId}</c>); unset: no links.</summary>
    public string? TraceUrl { get; set; }

    /// <summary>The Orleans dashboard (silos, grains), section <c>Orchestrator:Dashboard:Orleans</c>.</summary>
    public OrleansDashboardOptions Orleans { get; set; } = new();
}

/// <summary>
/// Microsoft.Orleans.Dashboard, served on the HTTP port under <see cref="Path"/> behind the API token. Its costs are a
/// counter sample per silo every <see cref="CounterIntervalSeconds"/>, <see cref="HistoryLength"/> samples kept per
/// counter, and a grain-call profiler that runs only while the dashboard is being looked at (it switches itself off
/// <see cref="ProfilerIdleSeconds"/> after the last query).
/// </summary>
public sealed class OrleansDashboardOptions
{
    /// <summary>Off: the package's services and endpoints are not added at all.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The base path of its page and data endpoints.</summary>
    public string Path { get; set; } = "/orleans";

    /// <summary>Seconds between counter samples; the package refuses less than 1. Five keeps an idle coordinator quiet.</summary>
    public int CounterIntervalSeconds { get; set; } = 5;

    /// <summary>Samples kept per counter for the charts (the package's default is 100).</summary>
    public int HistoryLength { get; set; } = 100;

    /// <summary>Seconds without a dashboard query after which the grain-call profiler stops (the package's default is 60).</summary>
    public int ProfilerIdleSeconds { get; set; } = 60;

    /// <summary>
    /// The package's live log stream (its "Log Stream" page, endpoint <c>Trace</c>). Off by default: it would copy
    /// every log line of the coordinator to any open page, and the JSON endpoints cover what the page needs.
    /// </summary>
    public bool LogStream { get; set; }
}
