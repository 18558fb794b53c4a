using Orchestrator.Shared.Net;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestrator.Coordinator.Extensions;
using Orchestrator.Shared.Protos;
using Orchestrator.Shared.Sweeps;
using Orchestrator.Worker.Agent;
using static Orchestrator.Benchmarks.Figures;

namespace Orchestrator.Benchmarks;

/// <summary>
/// sweep_overhead: 1,000 `sleep` trials of 0.5 s on 8 slots (2 worker agents x 4) through the real coordinator
/// (Orleans silo, SQLite storage, gRPC on loopback) and the real worker agents. With zero bookkeeping the sweep
/// would take 1,000 x 0.5 / 8 = 62.5 s; the figure is the observed time over that minimum (Ray Tune's own
/// published figure for the same shape of test is 715 s against 625 s: 1.14).
/// </summary>
public static class SweepOverhead
{
    public static int Run(string[] args)
    {
        int trials = Options.Int(args, "--trials", 1000);
        int workers = Options.Int(args, "--workers", 2);
        int slots = Options.Int(args, "--slots", 4);
        double seconds = Options.Int(args, "--sleep-ms", 500) / 1000.0;
        return RunAsync(trials, workers, slots, seconds).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(int trials, int workerCount, int slots, double seconds)
    {
        double minimum = trials * seconds / (workerCount * slots);
        Console.WriteLine(Inv($"sweep_overhead: {trials} sleep trials of {seconds} s on {workerCount} workers x {slots} slots; theoretical minimum {minimum:F1} s"));
        var data = Directory.CreateTempSubdirectory("orchestrator-sweep-overhead-").FullName;
        var (started, coordinator) = await BenchCoordinator.StartAsync(data);
        await using var app = started;

        using var stop = new CancellationTokenSource();
        var agents = Enumerable.Range(0, workerCount).Select(i => new WorkerAgent(new WorkerAgentOptions
        {
            Coordinator = coordinator,
            Slots = slots,
            WorkerId = $"bench-{i}",
            CollectivePort = 40000 + 10 * i,
            WorkDirectory = Path.Combine(data, $"worker-{i}"),
            TrainCommand = ["unused-by-sleep-trials"],
        }, NullLogger.Instance)).ToList();
        var running = agents.Select(a => a.RunAsync(stop.Token)).ToList();

        using var channel = GrpcChannel.ForAddress(coordinator);
        var jobs = new Jobs.JobsClient(channel);
        var spec = SweepSpecReader.FromYaml(Inv($$"""
            sweep:
              name: sweep-overhead
              trial:
                kind: sleep
                sleep: { seconds: {{seconds}}, reports: 1 }
              parameters:
                - { name: seed, type: int, min: 1, max: {{trials}}, grid_points: {{trials}} }
              search: { algorithm: grid }
              budget: { max_trials: {{trials}}, parallel_trials: {{workerCount * slots}} }
            """));
        // Workers must have joined before the clock starts: their start-up is not the sweep's overhead.
        while ((await jobs.ListSweepsAsync(new ListSweepsRequest())) is null) { }
        await Task.Delay(TimeSpan.FromSeconds(2));

        // The machine's own stalls (other tenants, GC): a thread that sleeps 5 ms at a time and records how much later
        // than that it woke, so that a slow run can be told from a slow coordinator.
        using var probing = new CancellationTokenSource();
        double stallMs = 0;
        var probe = new Thread(() =>
        {
            while (!probing.IsCancellationRequested)
            {
                var t0 = Stopwatch.GetTimestamp();
                Thread.Sleep(5);
                var late = Stopwatch.GetElapsedTime(t0).TotalMilliseconds - 5;
                if (late > 20) stallMs += late;
            }
        }) { IsBackground = true, Priority = ThreadPriority.AboveNormal };
        // Every persisted sweep write, in order (the coordinator's orchestrator.sweep.write.duration histogram): a write
        // late in the sweep should cost what an early one did.
        var writes = new List<double>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == Orchestrator.Shared.Telemetry.MetricNames.SweepWriteDuration) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<double>((_, seconds, _, _) =>
        {
            lock (writes) writes.Add(seconds * 1000);
        });
        listener.Start();
        var gcPause = GC.GetTotalPauseDuration();
        probe.Start();
        var clock = Stopwatch.StartNew();
        var submitted = await jobs.SubmitSweepAsync(new SubmitSweepRequest { RequestId = "bench", Spec = spec.ToProto() });
        Sweep sweep;
        int lastReported = -1;
        while (true)
        {
            sweep = await jobs.GetSweepAsync(new GetSweepRequest { SweepId = submitted.SweepId });
            if (sweep.Summary.State != SweepState.Running) break;
            int done = sweep.Summary.TrialsCompleted;
            if (done / 100 != lastReported / 100)
            {
                Console.WriteLine(Inv($"  {clock.Elapsed.TotalSeconds,6:F1} s: {done} trials completed"));
                lastReported = done;
            }
            await Task.Delay(100);
        }
        double observed = clock.Elapsed.TotalSeconds;
        await probing.CancelAsync();
        probe.Join();
        gcPause = GC.GetTotalPauseDuration() - gcPause;

        // Where the time beyond the minimum goes: each attempt's span as the coordinator recorded it (from recording
        // the attempt, before its assignment goes out, to recording its result) against the sleep, and the slot
        // time no attempt held (between one attempt's result and the next one's start on that slot).
        var durations = new List<double>();
        for (int n = 0; n < sweep.Summary.TrialsCreated; n++)
        {
            var trial = await jobs.GetTrialAsync(new GetTrialRequest { SweepId = submitted.SweepId, TrialNumber = n });
            foreach (var attempt in trial.Attempts)
                if (attempt.StartedAt is not null && attempt.EndedAt is not null)
                    durations.Add((attempt.EndedAt.ToDateTime() - attempt.StartedAt.ToDateTime()).TotalMilliseconds);
        }
        durations.Sort();
        double attemptMedian = durations.Count > 0 ? durations[durations.Count / 2] : double.NaN;
        double attemptP95 = durations.Count > 0 ? durations[(int)(durations.Count * 0.95)] : double.NaN;
        double idlePerTrial = (observed * workerCount * slots * 1000 - durations.Sum()) / Math.Max(1, durations.Count);
        Console.WriteLine(Inv($"  attempt span (coordinator's record) median {attemptMedian:F1} ms, p95 {attemptP95:F1} ms for a {seconds * 1000:F0} ms sleep; slot time between attempts {idlePerTrial:F1} ms per trial"));
        double firstTenth, lastTenth;
        int writeCount;
        lock (writes)
        {
            writeCount = writes.Count;
            int tenth = Math.Max(1, writes.Count / 10);
            firstTenth = writes.Count > 0 ? writes.Take(tenth).Average() : double.NaN;
            lastTenth = writes.Count > 0 ? writes.TakeLast(tenth).Average() : double.NaN;
        }
        Console.WriteLine(Inv($"  {writeCount} sweep state writes: mean {firstTenth:F2} ms in the first tenth, {lastTenth:F2} ms in the last"));
        Console.WriteLine(Inv($"  host stalls over 20 ms (a probe thread waking late): {stallMs:F0} ms in all; GC pauses {gcPause.TotalMilliseconds:F0} ms"));
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long managed = GC.GetTotalMemory(forceFullCollection: true);
        long workingSet = Process.GetCurrentProcess().WorkingSet64;

        await stop.CancelAsync();
        await Task.WhenAll(running.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
        foreach (var agent in agents) await agent.DisposeAsync();
        await app.StopAsync();
        Directory.Delete(data, recursive: true);

        var figures = new Dictionary<string, object>
        {
            ["state"] = sweep.Summary.State.ToString().ToLowerInvariant(),
            ["trials_completed"] = sweep.Summary.TrialsCompleted,
            ["observed_seconds"] = Math.Round(observed, 2),
            ["minimum_seconds"] = Math.Round(minimum, 2),
            ["observed_over_minimum"] = Math.Round(observed / minimum, 4),
            ["trials_dispatched_per_second"] = Math.Round(sweep.Summary.TrialsCreated / observed, 2),
            ["attempt_ms_median"] = Math.Round(attemptMedian, 1),
            ["attempt_ms_p95"] = Math.Round(attemptP95, 1),
            ["slot_idle_ms_per_trial"] = Math.Round(idlePerTrial, 1),
            // Noise, not overhead: a run with large stalls measured the machine, not the coordinator.
            ["sweep_writes"] = writeCount,
            ["sweep_write_ms_first_tenth"] = Math.Round(firstTenth, 2),
            ["sweep_write_ms_last_tenth"] = Math.Round(lastTenth, 2),
            ["host_stall_ms"] = Math.Round(stallMs),
            ["gc_pause_ms"] = Math.Round(gcPause.TotalMilliseconds),
            // Coordinator and agents share this process; the agents' part is small (timers for sleeping trials).
            ["process_managed_mb_after"] = Math.Round(managed / 1048576.0, 1),
            ["process_working_set_mb_after"] = Math.Round(workingSet / 1048576.0, 1),
        };
        Console.WriteLine(JsonSerializer.Serialize(figures));
        return sweep.Summary.State == SweepState.Completed ? 0 : 1;
    }


}
