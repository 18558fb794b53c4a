using Orchestrator.Shared.Protos;
using Orchestrator.Shared.Specs;
using Orchestrator.Shared.Trials;

namespace Orchestrator.Worker.Agent;

/// <summary>
/// The built-in `sleep` and `quadratic` trials, run inside the agent: they train nothing (no native code to crash),
/// and a process per trial would cost more than the trial itself, which is what the sweep-overhead benchmark
/// measures.
/// </summary>
internal sealed class BuiltinAttempt(WorkerAgent agent, Assign assign) : Attempt(agent, assign)
{
    protected override async Task<AttemptResult> RunAsync()
    {
        var spec = Spec();
        if (spec.Kind == TrialKinds.Sleep)
        {
            var interval = TimeSpan.FromSeconds(BuiltinTrials.SleepInterval(spec.Sleep));
            int reports = spec.Sleep.Reports;
            try
            {
                if (reports == 0) await Task.Delay(interval, Stopping).ConfigureAwait(false);
                for (int report = 1; report <= reports; report++)
                {
                    await Task.Delay(interval, Stopping).ConfigureAwait(false);
                    Progress(BuiltinTrials.SleepStep(report), new Dictionary<string, double>
                    {
                        [BuiltinTrials.ObjectiveMetric] = BuiltinTrials.SleepIntermediate(spec.Seed, report, reports),
                    });
                }
            }
            catch (OperationCanceledException)
            {
                return new AttemptResult { Status = StopStatus, Reason = StopReason, Step = Step };
            }
        }
        var result = new AttemptResult { Status = ResultStatus.Completed, Step = Step };
        foreach (var (name, value) in BuiltinTrials.FinalMetrics(spec)) result.FinalMetrics[name] = value;
        return result;
    }
}
