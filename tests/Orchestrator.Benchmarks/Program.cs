using Orchestrator.Benchmarks;

// Each scenario prints what it does and ends with one line: a JSON object of its figures.
var scenarios = new Dictionary<string, Func<string[], int>>
{
    ["searcher_cost"] = SearcherCost.Run,
    ["search_quality"] = SearchQuality.Run,
    ["trainer_overhead"] = TrainerOverhead.Run,
    ["allreduce"] = AllReduceBenchmark.Run,
    ["dp_scaling"] = DpScaling.Run,
    ["sweep_overhead"] = SweepOverhead.Run,
    ["telemetry_overhead"] = TelemetryOverhead.Run,
};
if (args.Length == 0 || !scenarios.TryGetValue(args[0], out var scenario))
{
    Console.Error.WriteLine($"usage: dotnet run -c Release --project tests/Orchestrator.Benchmarks -- <scenario> [options]");
    Console.Error.WriteLine($"scenarios: {string.Join(", ", scenarios.Keys)}");
    return 64;
}
return scenario(args[1..]);
