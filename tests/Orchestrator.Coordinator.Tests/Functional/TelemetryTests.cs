using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using Orchestrator.Shared.Telemetry;
using Proto = Orchestrator.Shared.Protos;

namespace Orchestrator.Coordinator.Tests.Functional;

public sealed class TelemetryTests
{
    [Fact]
    public async Task A_sweep_is_one_trace_of_submit_then_sweep_then_trials_then_attempts_and_assignments_carry_the_attempt_span()
    {
        // Listeners are process-wide, so other tests' spans arrive too: everything below filters by this sweep's trace.
        var exported = new LockedList();
        await using var host = await CoordinatorHost.StartAsync(configure: builder =>
            builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(exported)));
        await using var worker = new TestWorker(host.Address, "traced-worker", slots: 2);
        await worker.StartAsync();
        var jobs = host.Jobs();

        var submitted = await jobs.SubmitSweepAsync(new Proto.SubmitSweepRequest { RequestId = Guid.NewGuid().ToString(), Spec = Sweeps.Sleep(maxTrials: 2, parallel: 2) });
        await Sweeps.WaitForAsync(jobs, submitted.SweepId, s => s.Summary.State == Proto.SweepState.Completed);
        await Sweeps.WaitUntilAsync(() => exported.Snapshot().Any(s => s.OperationName == SpanNames.Sweep && Tag(s, AttributeNames.SweepId) == submitted.SweepId),
            "the sweep span to end");

        var spans = exported.Snapshot();
        var submit = Assert.Single(spans, s => s.OperationName == SpanNames.Submit && Tag(s, AttributeNames.SweepId) == submitted.SweepId);
        var trace = spans.Where(s => s.TraceId == submit.TraceId).ToList();
        var sweep = Assert.Single(trace, s => s.OperationName == SpanNames.Sweep);
        Assert.Equal(submit.SpanId, sweep.ParentSpanId);
        var trials = trace.Where(s => s.OperationName == SpanNames.Trial).ToList();
        Assert.Equal(2, trials.Count);
        Assert.All(trials, t => Assert.Equal(sweep.SpanId, t.ParentSpanId));
        Assert.Equal(["0", "1"], trials.Select(t => Tag(t, AttributeNames.TrialNumber)).Order());
        var attempts = trace.Where(s => s.OperationName == SpanNames.Attempt).ToList();
        Assert.Equal(2, attempts.Count);
        Assert.All(attempts, a => Assert.Contains(trials, t => t.SpanId == a.ParentSpanId));
        Assert.All(attempts, a => Assert.Equal("completed", Tag(a, AttributeNames.AttemptResult)));

        // The worker got each attempt's span as its parent: its spans join this trace under the attempt.
        var assigned = worker.Assignments.Where(a => a.SweepId == submitted.SweepId).ToList();
        Assert.Equal(2, assigned.Count);
        foreach (var assign in assigned)
        {
            Assert.True(ActivityContext.TryParse(assign.Traceparent, null, out var context));
            Assert.Equal(submit.TraceId, context.TraceId);
            Assert.Contains(attempts, a => a.SpanId == context.SpanId);
        }
    }

    [Fact]
    public async Task Prometheus_endpoint_serves_the_documented_coordinator_metrics_after_a_sweep()
    {
        await using var host = await CoordinatorHost.StartAsync();
        await using var worker = new TestWorker(host.Address, "scraped-worker", slots: 3);
        await worker.StartAsync();
        var jobs = host.Jobs();
        var submitted = await jobs.SubmitSweepAsync(new Proto.SubmitSweepRequest { RequestId = Guid.NewGuid().ToString(), Spec = Sweeps.Sleep(maxTrials: 3, parallel: 3) });
        await Sweeps.WaitForAsync(jobs, submitted.SweepId, s => s.Summary.State == Proto.SweepState.Completed);

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{host.HttpPort}") };
        string text = "";
        await Sweeps.WaitUntilAsync(() =>
        {
            text = http.GetStringAsync("/metrics").GetAwaiter().GetResult();
            return Value(text, "orchestrator_trials", "orchestrator_trial_state=\"completed\"") >= 3;
        }, "three completed trials in orchestrator_trials");

        foreach (var metric in MetricNames.All.Where(m => m.Meter == TelemetryNames.Coordinator))
            Assert.Contains($"# TYPE {metric.Prometheus} ", text, StringComparison.Ordinal);
        Assert.True(Value(text, "orchestrator_dispatch_duration_seconds_count", "") >= 3);
        // Submit, three trials created and started and ended: well over three state writes.
        Assert.True(Value(text, "orchestrator_sweep_write_duration_seconds_count", "") >= 3);
        Assert.True(Value(text, "orchestrator_attempts_total", "orchestrator_attempt_result=\"completed\"") >= 3);
        Assert.True(Value(text, "orchestrator_worker_slots", "orchestrator_slot_state=\"free\"") >= 3);
        Assert.True(Value(text, "orchestrator_workers", "") >= 1);
        Assert.True(Value(text, "orchestrator_sweeps", "orchestrator_sweep_state=\"completed\"") >= 1);
        // Library instrumentation is on as well: gRPC server calls were measured.
        Assert.Contains("http_server_request_duration_seconds", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_tokens_on_the_dashboard_data_endpoints_refuse_requests_without_the_api_token()
    {
        await using var host = await CoordinatorHost.StartAsync(apiToken: "api-secret", joinToken: "join-secret");
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{host.HttpPort}") };

        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await http.GetAsync("/api/dashboard/sweeps")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await http.GetAsync("/api/dashboard/sweeps/x?token=join-secret")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync("/api/dashboard/sweeps?token=api-secret")).StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/dashboard/sweeps");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "api-secret");
        Assert.Equal(System.Net.HttpStatusCode.OK, (await http.SendAsync(request)).StatusCode);
    }

    private static string? Tag(Activity activity, string key) => activity.GetTagItem(key) switch
    {
        null => null,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        var o => o.ToString(),
    };

    /// <summary>The largest sample of <paramref name="name"/> whose labels contain <paramref name="label"/> (-1: none).</summary>
    private static double Value(string exposition, string name, string label)
    {
        double best = -1;
        foreach (Match m in Regex.Matches(exposition, $@"^{Regex.Escape(name)}(\{{[^}}]*\}})? (\S+)", RegexOptions.Multiline))
        {
            if (label.Length > 0 && !m.Groups[1].Value.Contains(label, StringComparison.Ordinal)) continue;
            best = Math.Max(best, double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
        }
        return best;
    }

    /// <summary>What the in-memory exporter appends to from the threads that end spans, read as snapshots.</summary>
    private sealed class LockedList : ICollection<Activity>
    {
        private readonly List<Activity> _items = [];
        public int Count { get { lock (_items) return _items.Count; } }
        public bool IsReadOnly => false;
        public void Add(Activity item) { lock (_items) _items.Add(item); }
        public void Clear() { lock (_items) _items.Clear(); }
        public bool Contains(Activity item) { lock (_items) return _items.Contains(item); }
        public void CopyTo(Activity[] array, int arrayIndex) { lock (_items) _items.CopyTo(array, arrayIndex); }
        public bool Remove(Activity item) { lock (_items) return _items.Remove(item); }
        public IEnumerator<Activity> GetEnumerator() => ((IEnumerable<Activity>)Snapshot()).GetEnumerator();
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
        public Activity[] Snapshot() { lock (_items) return [.. _items]; }
    }
}
