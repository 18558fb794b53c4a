using Orchestrator.Coordinator.Search;
using Orchestrator.Shared.Sweeps;

namespace Orchestrator.Coordinator.Tests.Search;

/// <summary>
/// A coordinator killed and restarted mid-sweep must continue the same search: every searcher, stopper and the
/// PBT controller is driven through a parallel workload once uninterrupted and once restored from its saved
/// state every few calls, and both runs must make identical decisions and end in identical states.
/// </summary>
public sealed class ResumeDeterminismTests
{
    public static TheoryData<string> SearchAlgorithmNames => [SearchAlgorithms.Grid, SearchAlgorithms.Random, SearchAlgorithms.Tpe];

    public static TheoryData<string> StopperNames =>
        [EarlyStoppingAlgorithms.None, EarlyStoppingAlgorithms.Median, EarlyStoppingAlgorithms.Asha, EarlyStoppingAlgorithms.Hyperband];

    [Theory]
    [MemberData(nameof(SearchAlgorithmNames))]
    public void Restored_searcher_makes_the_same_suggestions_as_an_uninterrupted_one(string algorithm)
    {
        var search = new SearchSpec { Algorithm = algorithm, Seed = 3, StartupTrials = 6, GridPoints = 3 };
        var parameters = Spaces.Mixed();
        var uninterrupted = RunSearch(search, parameters, restoreEvery: 0, out var expected);
        var restored = RunSearch(search, parameters, restoreEvery: 4, out var actual);
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++) Assert.Equal(expected[i], actual[i]);
        Assert.Equal(uninterrupted.SaveState(), restored.SaveState());
    }

    private static ISearcher RunSearch(SearchSpec search, IReadOnlyList<ParameterSpec> parameters, int restoreEvery, out List<double[]> suggestions)
    {
        var searcher = SearcherFactory.Create(search, parameters);
        suggestions = [];
        var running = new Queue<(int Trial, double[] Point)>();
        int calls = 0;
        for (int t = 0; t < 40; t++)
        {
            var point = searcher.Suggest(t);
            if (point is null) break;
            suggestions.Add(point);
            running.Enqueue((t, point));
            if (restoreEvery > 0 && ++calls % restoreEvery == 0) searcher = SearcherFactory.Restore(search, parameters, searcher.SaveState());
            if (running.Count <= 3) continue; // four workers
            var (trial, p) = running.Dequeue();
            searcher.Observe(trial, trial % 9 == 4 ? null : p[0] + Math.Abs(Math.Log10(p[1]) + 3) + Math.Abs(p[2] - 50) / 100 + p[3]);
            if (restoreEvery > 0 && ++calls % restoreEvery == 0) searcher = SearcherFactory.Restore(search, parameters, searcher.SaveState());
        }
        return searcher;
    }

    [Theory]
    [MemberData(nameof(StopperNames))]
    public void Restored_stopper_makes_the_same_decisions_as_an_uninterrupted_one(string algorithm)
    {
        var spec = new EarlyStoppingSpec { Algorithm = algorithm, MinResource = 30, MinTrials = 3, ReductionFactor = 3 };
        var uninterrupted = RunStopper(spec, restoreEvery: 0, out var expected);
        var restored = RunStopper(spec, restoreEvery: 7, out var actual);
        Assert.Equal(expected, actual);
        Assert.Equal(uninterrupted.SaveState(), restored.SaveState());
        if (algorithm != EarlyStoppingAlgorithms.None) Assert.Contains(StopDecision.Stop, expected); // the workload exercises stopping
    }

    private static IEarlyStopper RunStopper(EarlyStoppingSpec spec, int restoreEvery, out List<StopDecision> decisions)
    {
        const int maxSteps = 810, trials = 30, every = 30;
        var stopper = EarlyStopperFactory.Create(spec, maxSteps);
        decisions = [];
        // Trials start in waves of six and report every 30 steps, interleaved; a stopped trial reports no more.
        var step = new int[trials];
        var active = new bool[trials];
        int calls = 0;
        for (int round = 0; ; round++)
        {
            bool any = false;
            for (int t = 0; t < trials; t++)
            {
                if (round == t / 6 * 4) active[t] = true;
                if (!active[t]) continue;
                any = true;
                step[t] += every;
                var noise = DeterministicRandom.ForStream(t, step[t]).NextDouble();
                double value = 1.0 + (t % 7) / 7.0 + 3.0 / Math.Sqrt(step[t]) + 0.2 * noise + (t == 11 && step[t] == 90 ? double.NaN : 0);
                var decision = stopper.Report(t, step[t], value);
                decisions.Add(decision);
                if (decision == StopDecision.Stop || step[t] >= maxSteps)
                {
                    active[t] = false;
                    step[t] = int.MaxValue / 2; // done; never reactivated
                    stopper.Complete(t, decision == StopDecision.Stop ? null : value);
                }
                if (restoreEvery > 0 && ++calls % restoreEvery == 0) stopper = EarlyStopperFactory.Restore(spec, maxSteps, stopper.SaveState());
            }
            if (!any && round > trials) break;
        }
        return stopper;
    }

    [Fact]
    public void Restored_pbt_makes_the_same_decisions_as_an_uninterrupted_one()
    {
        var search = new SearchSpec { Algorithm = SearchAlgorithms.Pbt, Seed = 5, Population = 6, ReadyInterval = 400, Quantile = 0.25 };
        var uninterrupted = RunPbt(search, restoreEvery: 0, out var expected);
        var restored = RunPbt(search, restoreEvery: 11, out var actual);
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Action, actual[i].Action);
            Assert.Equal(expected[i].SourceTrial, actual[i].SourceTrial);
            Assert.Equal(expected[i].SourceCheckpointStep, actual[i].SourceCheckpointStep);
            Assert.Equal(expected[i].NewPoint, actual[i].NewPoint);
        }
        Assert.Contains(expected, d => d.Action == PbtAction.Exploit);
        Assert.Equal(uninterrupted.SaveState(), restored.SaveState());
    }

    private static PbtController RunPbt(SearchSpec search, int restoreEvery, out List<PbtDecision> decisions)
    {
        var space = new SearchSpace(Spaces.Mixed());
        var pbt = new PbtController(space, search);
        var initial = new RandomSearcher(space, search.Seed);
        var step = new int[search.Population];
        for (int t = 0; t < search.Population; t++) pbt.AddMember(t, initial.Suggest(t)!);
        decisions = [];
        int calls = 0;
        for (int round = 0; round < 40; round++)
        {
            for (int t = 0; t < search.Population; t++)
            {
                step[t] += 100;
                var p = pbt.PointOf(t);
                double value = p[0] + Math.Abs(Math.Log10(p[1]) + 3) + p[3] / 3 + 10.0 / step[t];
                var decision = pbt.Report(t, step[t], value, hasCheckpoint: step[t] % 200 == 0);
                decisions.Add(decision);
                if (decision.Action == PbtAction.Exploit) step[t] = decision.SourceCheckpointStep!.Value;
                if (restoreEvery > 0 && ++calls % restoreEvery == 0) pbt = PbtController.Restore(space, search, pbt.SaveState());
            }
        }
        return pbt;
    }
}
