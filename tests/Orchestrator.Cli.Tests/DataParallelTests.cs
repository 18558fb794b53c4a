using Orchestrator.Shared.Net;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Orchestrator.Shared.Specs;
using Orchestrator.Worker.Data;
using Orchestrator.Worker.Training;
using TorchSharp;

namespace Orchestrator.Cli.Tests;

/// <summary>`orchestrator train --rank R --world K --peers ...` as real processes over gRPC on loopback.</summary>
public sealed class DataParallelTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("orchestrator-dp-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static string Trial(string batch, int steps, int hidden = 32) => $$"""
        trial:
          seed: 5
          data: { dataset: ring8, {{batch}}, mixture_size: 4096 }
          model: { architecture: mlp, hidden: {{hidden}}, layers: 2 }
          latent: { dim: 4 }
          loss: { type: wgan_gp }
          training: { steps: {{steps}}, n_critic: 2, log_every: 10, eval_every: {{steps}}, checkpoint_every: {{steps}}, threads: 1 }
          evaluation: { samples: 400 }
        """;

    private string Write(string name, string text)
    {
        var path = Path.Combine(_root, name);
        File.WriteAllText(path, text);
        return path;
    }


    /// <summary>A running `orchestrator` process whose output is collected as it comes.</summary>
    private sealed class Rank : IDisposable
    {
        private readonly StringBuilder _output = new();

        public Rank(params string[] args) : this(null, args)
        {
        }

        public Rank(IReadOnlyDictionary<string, string>? environment, params string[] args)
        {
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var (name, value) in environment ?? new Dictionary<string, string>()) info.Environment[name] = value;
            info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "orchestrator.dll"));
            foreach (var a in args) info.ArgumentList.Add(a);
            Process = Process.Start(info)!;
            Process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
            Process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
            Process.BeginOutputReadLine();
            Process.BeginErrorReadLine();
        }

        public Process Process { get; }

        public string Output
        {
            get { lock (_output) return _output.ToString(); }
        }

        public int WaitForExit(TimeSpan limit)
        {
            if (!Process.WaitForExit(limit))
            {
                Process.Kill(entireProcessTree: true);
                throw new TimeoutException($"rank did not exit within {limit}:\n{Output}");
            }
            Process.WaitForExit(); // drains the redirected output
            return Process.ExitCode;
        }

        public void Dispose()
        {
            if (!Process.HasExited) Process.Kill(entireProcessTree: true);
            Process.Dispose();
        }
    }

    private static Rank[] StartGroup(string config, string outDir, string[] peers, int devices = 1, params string[] extra) =>
        StartGroup(config, outDir, peers, devices, _ => extra);

    private static Rank[] StartGroup(string config, string outDir, string[] peers, int devices, Func<int, string[]> extra,
        IReadOnlyDictionary<string, string>? environment = null) =>
        Enumerable.Range(0, peers.Length).Select(r => new Rank(environment,
            ["train", "--config", config, "--out", outDir, "--rank", $"{r}", "--world", $"{peers.Length}",
             "--peers", string.Join(',', peers), "--devices", $"{devices}", .. extra(r)])).ToArray();

    /// <summary>--cores for rank <paramref name="rank"/>: one core of its own with one replica, else all of them.</summary>
    private static string[] Pinned(int rank, int devices)
    {
        var allowed = CpuAffinity.Allowed();
        return ["--cores", devices == 1 ? $"{allowed[rank % allowed.Count]}" : CpuAffinity.Format(allowed)];
    }

    private static Dictionary<string, float[]> Parameters(string trialYaml, string checkpoint)
    {
        torch.set_num_threads(1);
        var spec = TrialSpecReader.FromYaml(trialYaml);
        using var data = DatasetLoader.LoadTrain(spec.Data, spec.Seed);
        using var trainer = new GanTrainer(spec, data, torch.CPU);
        using (var file = File.OpenRead(checkpoint)) trainer.LoadCheckpoint(file, checkpoint);
        var state = new Dictionary<string, float[]>();
        foreach (var (k, v) in trainer.G.state_dict()) state["G." + k] = v.data<float>().ToArray();
        foreach (var (k, v) in trainer.D.state_dict()) state["D." + k] = v.data<float>().ToArray();
        return state;
    }

    [Theory]
    [InlineData(2, 1, true, true)]
    [InlineData(3, 1, false, true)]
    [InlineData(3, 1, false, false)]
    [InlineData(2, 2, true, true)]
    public void Processes_at_batch_b_end_with_the_parameters_of_one_process_at_the_global_batch(int processes, int devices, bool pinned, bool sharedMemory)
    {
        const int b = 16, steps = 50;
        int global = b * processes * devices;
        var single = Write("single.yaml", Trial($"batch_size: {global}", steps));
        var (code, output) = CliProcess.Run(_root, "train", "--config", single, "--out", Path.Combine(_root, "single"));
        Assert.True(code == 0, output);

        var split = Write("split.yaml", Trial($"batch_size: {b}", steps));
        var groupDir = Path.Combine(_root, "group");
        // Processes on one host all-reduce through shared memory unless the environment turns it off.
        var ranks = StartGroup(split, groupDir, LoopbackPorts.Endpoints(processes), devices, r => pinned ? Pinned(r, devices) : [],
            sharedMemory ? null : new Dictionary<string, string> { ["ORCHESTRATOR_COLLECTIVE_SHM"] = "off" });
        try
        {
            foreach (var rank in ranks) Assert.True(rank.WaitForExit(TimeSpan.FromMinutes(5)) == 0, rank.Output);
            foreach (var rank in ranks)
            {
                Assert.Contains(sharedMemory ? "all-reduce through shared memory" : "all-reduce through ring (", rank.Output);
            }
        }
        finally
        {
            foreach (var rank in ranks) rank.Dispose();
        }

        var expected = Parameters(File.ReadAllText(single), Path.Combine(_root, "single", "checkpoints", $"step-{steps:D8}.ckpt"));
        var actual = Parameters(File.ReadAllText(split), Path.Combine(groupDir, "checkpoints", $"step-{steps:D8}.ckpt"));
        foreach (var (name, values) in expected)
        {
            double worst = 0;
            for (int i = 0; i < values.Length; i++) worst = Math.Max(worst, Math.Abs(values[i] - actual[name][i]));
            Assert.True(worst <= 1e-5, $"{name} differs from one process by {worst:E2}");
        }
        // Rank 0 alone wrote the run directory.
        Assert.Equal(2, File.ReadAllLines(Path.Combine(groupDir, "metrics.jsonl")).Count(l => l.Contains("\"step\":50")));
    }

    [Fact]
    public void Killing_one_rank_fails_every_other_rank_within_the_timeout_naming_the_rank_and_the_collective()
    {
        var config = Write("long.yaml", Trial("batch_size: 16", steps: 1_000_000));
        var ranks = StartGroup(config, Path.Combine(_root, "killed"), LoopbackPorts.Endpoints(3), 1, "--collective-timeout", "5");
        try
        {
            // Wait until rank 0 has logged training steps: the group is formed and all-reducing.
            var until = DateTime.UtcNow + TimeSpan.FromMinutes(2);
            while (!ranks[0].Output.Contains("] step ", StringComparison.Ordinal) && DateTime.UtcNow < until) Thread.Sleep(100);
            Assert.True(ranks[0].Output.Contains("] step ", StringComparison.Ordinal), ranks[0].Output);
            // The ranks share this host, so their gradients go through shared memory; the links still carry the news.
            Assert.Contains("all-reduce through shared memory", ranks[0].Output);

            ranks[2].Process.Kill(); // SIGKILL: no goodbye to the neighbours
            var killed = Stopwatch.StartNew();
            foreach (var survivor in ranks[..2])
            {
                Assert.Equal(1, survivor.WaitForExit(TimeSpan.FromMinutes(1)));
                // The group names the collective either way: the one in flight when the peer vanished, or the last one
                // completed when the loss was noticed between two. The whole output on failure (Assert.Matches would
                // cut it short).
                Assert.True(Regex.IsMatch(survivor.Output,
                    @"failed at step \d+/1000000: after training step \d+: (Collective #\d+ on rank \d of group '[^']+' failed|Group '[^']+' failed on rank \d after collective #\d+): "),
                    survivor.Output);
                Assert.True(survivor.Output.Contains("rank 2", StringComparison.Ordinal), survivor.Output);
            }
            // A bound on correctness (the configured timeout plus process exit), not a speed expectation.
            Assert.True(killed.Elapsed < TimeSpan.FromSeconds(30), $"survivors took {killed.Elapsed} to fail");
        }
        finally
        {
            foreach (var rank in ranks) rank.Dispose();
        }
    }

    [Fact]
    public void Ranks_with_different_models_fail_at_setup_before_the_first_step()
    {
        var small = Write("small.yaml", Trial("batch_size: 16", steps: 50));
        var large = Write("large.yaml", Trial("batch_size: 16", steps: 50, hidden: 48));
        var peers = LoopbackPorts.Endpoints(2);
        using var rank0 = new Rank("train", "--config", small, "--out", Path.Combine(_root, "mismatch"), "--rank", "0", "--world", "2",
            "--peers", string.Join(',', peers), "--group", "mismatch", "--collective-timeout", "10");
        using var rank1 = new Rank("train", "--config", large, "--out", Path.Combine(_root, "mismatch"), "--rank", "1", "--world", "2",
            "--peers", string.Join(',', peers), "--group", "mismatch", "--collective-timeout", "10");

        foreach (var rank in new[] { rank0, rank1 })
        {
            Assert.Equal(1, rank.WaitForExit(TimeSpan.FromMinutes(2)));
            Assert.Contains("failed at step 0/50", rank.Output);
            Assert.Contains("have model shapes or gradient bucket layouts that differ from rank 0's", rank.Output);
        }
    }

    [Theory]
    [InlineData(new[] { "--rank", "2", "--world", "2", "--peers", "a:1,b:2" }, "--rank must be between 0 and 1")]
    [InlineData(new[] { "--world", "2" }, "--world 2 needs --peers")]
    [InlineData(new[] { "--world", "3", "--peers", "127.0.0.1:5000,127.0.0.1:5001" }, "--peers lists 2 endpoint(s) but --world is 3")]
    [InlineData(new[] { "--world", "2", "--peers", "127.0.0.1:5000,127.0.0.1" }, "'127.0.0.1' is not host:port")]
    [InlineData(new[] { "--devices", "0" }, "--devices must be at least 1")]
    [InlineData(new[] { "--devices", "5" }, "data.global_batch_size 48 is not a multiple of the world size 5")]
    public void Bad_group_options_are_refused_naming_the_option(string[] options, string message)
    {
        var config = Write("global.yaml", Trial("global_batch_size: 48", steps: 10));
        var (code, output) = CliProcess.Run(_root, ["train", "--config", config, "--out", Path.Combine(_root, "refused"), .. options]);

        Assert.Equal(64, code);
        Assert.Contains(message, output);
    }
}
