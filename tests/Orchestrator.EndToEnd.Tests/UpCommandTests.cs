using System.Diagnostics;

namespace Orchestrator.EndToEnd.Tests;

/// <summary>`orchestrator up`, the README's first command, as a user runs it.</summary>
public sealed class UpCommandTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("orchestrator-up-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private (int Code, string Output) Up(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _root };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "orchestrator.dll"));
        info.ArgumentList.Add("up");
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(4)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"up did not finish:\n{stdout.Result}{stderr.Result}");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    private static string Example(string name)
    {
        // The examples of the repository this test was built from.
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Orchestrator.sln"))) directory = directory.Parent;
        return Path.Combine(directory!.FullName, "examples", "sweeps", name);
    }

    [Fact]
    public void Up_runs_a_sweep_on_local_workers_and_prints_the_table_and_the_best_trial()
    {
        var (code, output) = Up(Example("sleep-grid.yaml"), "--data", Path.Combine(_root, "data"));

        Assert.True(code == 0, output);
        Assert.Contains("2 local worker(s)", output);
        Assert.Matches(@"sweep sw-[0-9a-f]+ completed", output);
        // sleep-grid's best is seed 1 (its seeded objective is the smallest of the eight).
        Assert.Contains("best trial #0: objective = 0.24867 with seed=1", output);
        Assert.True(File.Exists(Path.Combine(_root, "data", "coordinator.db")));
    }

    [Fact]
    public void Up_runs_trials_that_need_two_workers_once_its_local_workers_have_joined()
    {
        var sweep = Path.Combine(_root, "gang.yaml");
        File.WriteAllText(sweep, """
            sweep:
              name: gang
              trial: { kind: sleep, sleep: { seconds: 0.2, reports: 1 } }
              parameters:
                - { name: seed, type: int, min: 1, max: 3, grid_points: 3 }
              search: { algorithm: grid }
              budget: { max_trials: 3, parallel_trials: 1 }
              resources: { workers: 2 }
            """);

        var (code, output) = Up(sweep, "--data", Path.Combine(_root, "gang-data"));

        Assert.True(code == 0, output);
        Assert.Contains("trials 3 done", output);
    }

    [Fact]
    public void Up_refuses_a_bad_sweep_naming_the_field_and_starts_nothing()
    {
        var sweep = Path.Combine(_root, "bad.yaml");
        File.WriteAllText(sweep, "sweep:\n  name: bad\n  trial: { kind: sleep }\n  budget: { max_trials: 0 }\n");

        var (code, output) = Up(sweep, "--data", Path.Combine(_root, "data"));

        Assert.Equal(64, code);
        Assert.Contains("sweep.budget.max_trials", output);
        Assert.False(Directory.Exists(Path.Combine(_root, "data")));
    }
}
