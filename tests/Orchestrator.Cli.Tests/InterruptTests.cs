using System.Diagnostics;
using System.Text.Json;

namespace Orchestrator.Cli.Tests;

public sealed class InterruptTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("orchestrator-int-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Sigint_checkpoints_and_exits_130_and_resume_finishes_the_run()
    {
        var config = Path.Combine(_root, "long.yaml");
        File.WriteAllText(config, """
            trial:
              seed: 4
              data: { dataset: ring8, batch_size: 64, mixture_size: 2048 }
              model: { architecture: mlp, hidden: 32, layers: 2 }
              latent: { dim: 4 }
              training: { steps: 200000, log_every: 20, eval_every: 100000, checkpoint_every: 100000, threads: 1 }
              evaluation: { samples: 400 }
            """);
        var outDir = Path.Combine(_root, "run");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "orchestrator.dll"));
        foreach (var a in new[] { "train", "--config", config, "--out", outDir }) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();

        // Wait until training is under way (a logged step), then interrupt it as Ctrl+C would.
        string? line;
        while ((line = process.StandardOutput.ReadLine()) is not null && !line.Contains("] step ", StringComparison.Ordinal))
        {
        }
        Assert.NotNull(line);
        using (var kill = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            kill.WaitForExit();
        var rest = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "train did not stop after SIGINT");
        Assert.True(process.ExitCode == 130, rest + await stderr);

        using (var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "summary.json"))))
        {
            Assert.Equal("interrupted", summary.RootElement.GetProperty("status").GetString());
            int step = summary.RootElement.GetProperty("step").GetInt32();
            Assert.True(step is > 0 and < 200000);
            Assert.True(File.Exists(Path.Combine(outDir, "checkpoints", $"step-{step:D8}.ckpt")));
        }

        // Shorten the run so the resumed part ends quickly; the rest of the trial is unchanged.
        var trial = Path.Combine(outDir, "trial.yaml");
        File.WriteAllText(trial, File.ReadAllText(trial).Replace("steps: 200000", "steps: 2000", StringComparison.Ordinal));
        var (code, output) = CliProcess.Run(_root, "train", "--resume", outDir);
        Assert.True(code == 0, output);
        Assert.Contains("resumed from", output);
        Assert.Contains("completed at step 2000/2000", output);
    }
}
