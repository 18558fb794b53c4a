using System.Text.Json;

namespace Orchestrator.Cli.Tests;

public sealed class TrainCommandTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("orchestrator-cli-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Write(string name, string yaml)
    {
        var path = Path.Combine(_root, name);
        File.WriteAllText(path, yaml);
        return path;
    }

    private const string SmallRing = """
        trial:
          seed: 2
          data: { dataset: ring8, batch_size: 64, mixture_size: 2048 }
          model: { architecture: mlp, hidden: 32, layers: 2 }
          latent: { dim: 4 }
          loss: { type: bce_nonsaturating, real_label: 0.9 }
          training: { steps: 30, log_every: 10, eval_every: 15, checkpoint_every: 15, threads: 1 }
          evaluation: { samples: 400 }
        """;

    [Fact]
    public void Train_writes_metrics_checkpoints_samples_and_summary_then_resume_reports_the_finished_run()
    {
        var config = Write("ring.yaml", SmallRing);
        var outDir = Path.Combine(_root, "run");
        var (code, output) = CliProcess.Run(_root, "train", "--config", config, "--out", outDir);
        Assert.True(code == 0, output);
        Assert.Contains("completed at step 30/30", output);

        Assert.True(File.Exists(Path.Combine(outDir, "trial.yaml")));
        Assert.Equal(5, File.ReadAllLines(Path.Combine(outDir, "metrics.jsonl")).Length); // 3 step lines + 2 evals
        Assert.Equal(["step-00000015.ckpt", "step-00000030.ckpt"], Directory.GetFiles(Path.Combine(outDir, "checkpoints")).Select(Path.GetFileName).Order());
        Assert.Equal(2, Directory.GetFiles(Path.Combine(outDir, "samples"), "*.png").Length);
        using (var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "summary.json"))))
        {
            Assert.Equal("completed", summary.RootElement.GetProperty("status").GetString());
            Assert.True(summary.RootElement.GetProperty("evaluation").TryGetProperty("modes_covered", out _));
            Assert.True(summary.RootElement.GetProperty("evaluation").TryGetProperty("high_quality_fraction", out _));
        }

        var (again, againOutput) = CliProcess.Run(_root, "train", "--resume", outDir);
        Assert.True(again == 0, againOutput);
        Assert.Contains("resumed from", againOutput);
    }

    [Fact]
    public void Events_mode_writes_one_json_event_per_line_ending_with_the_summary()
    {
        var config = Write("ring.yaml", SmallRing);
        var (code, output) = CliProcess.Run(_root, "train", "--config", config, "--out", Path.Combine(_root, "events"), "--events");
        Assert.True(code == 0, output);

        var events = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => Orchestrator.Worker.Training.TrialEvent.TryParse(l.TrimEnd('\r'))).ToList();
        Assert.All(events, Assert.NotNull);
        Assert.Equal(["start", "step", "eval", "checkpoint", "step", "step", "eval", "checkpoint", "summary"], events.Select(e => e!.Kind));
        Assert.Equal([10, 15, 15, 20, 30, 30, 30], events.Skip(1).SkipLast(1).Select(e => e!.Step!.Value));
        Assert.True(events[1]!.Metrics!.ContainsKey("d_loss"));
        Assert.EndsWith("step-00000015.ckpt", events[3]!.Path);
        Assert.Equal(("completed", 30), (events[^1]!.Summary!.Status, events[^1]!.Summary!.Step));
    }

    [Fact]
    public void Train_refuses_to_overwrite_an_existing_run()
    {
        var config = Write("ring.yaml", SmallRing);
        var outDir = Path.Combine(_root, "run");
        Assert.Equal(0, CliProcess.Run(_root, "train", "--config", config, "--out", outDir).ExitCode);
        var (code, output) = CliProcess.Run(_root, "train", "--config", config, "--out", outDir);
        Assert.Equal(64, code);
        Assert.Contains("already holds a run", output);
    }

    [Theory]
    [InlineData("trial:\n  optimizer:\n    generator: { lr: -0.001 }\n", "trial.optimizer.generator.lr", "> 0")]
    [InlineData("trial:\n  data: { batch_size: 0 }\n", "trial.data.batch_size", "between 1 and")]
    [InlineData("trial:\n  loss: { type: wassertein }\n", "trial.loss.type", "wgan_gp")]
    [InlineData("trial:\n  modle: {}\n", "trial.modle", "allowed keys")]
    [InlineData("trial:\n  data: { dataset: ring8 }\n  model: { architecture: dcgan }\n", "trial.model.architecture", "image dataset")]
    public void Invalid_trial_file_fails_before_training_naming_the_field(string yaml, string field, string hint)
    {
        var config = Write("bad.yaml", yaml);
        var outDir = Path.Combine(_root, "bad-run");
        var (code, output) = CliProcess.Run(_root, "train", "--config", config, "--out", outDir);
        Assert.Equal(64, code);
        Assert.Contains(field, output);
        Assert.Contains(hint, output);
        Assert.False(Directory.Exists(outDir));
    }

    [Fact]
    public void Train_pinned_to_a_core_completes_the_same_run()
    {
        var config = Write("ring.yaml", SmallRing);
        var core = Orchestrator.Worker.Training.CpuAffinity.Allowed()[^1];
        var (code, output) = CliProcess.Run(_root, "train", "--config", config, "--out", Path.Combine(_root, "pinned"), "--cores", $"{core}");
        Assert.True(code == 0, output);
        Assert.Contains("completed at step 30/30", output);
        Assert.Contains($"training thread pinned to core(s) {core}", output);
    }

    [Theory]
    [InlineData("0-x", "--cores: '0-x' in core list '0-x' is not a core")]
    [InlineData("1023", "--cores: core(s) 1023 are not among the cores this process may use")]
    public void Train_refuses_a_bad_core_list_before_training_naming_it(string cores, string message)
    {
        var config = Write("ring.yaml", SmallRing);
        var outDir = Path.Combine(_root, "bad-cores");
        var (code, output) = CliProcess.Run(_root, "train", "--config", config, "--out", outDir, "--cores", cores);
        Assert.Equal(64, code);
        Assert.Contains(message, output);
        Assert.False(Directory.Exists(outDir));
    }

    [Fact]
    public void Train_without_config_or_resume_explains_its_usage()
    {
        var (code, output) = CliProcess.Run(_root, "train");
        Assert.Equal(64, code);
        Assert.Contains("--config FILE and --out DIR", output);
    }
}
