using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Orchestrator.Cli.Tests;

public sealed class InterruptTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("orchestrator-int-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Sigint_checkpoints_and_exits_130_and_resume_finishes_the_run()
    {
        var outDir = Path.Combine(_root, "run");
        using var process = StartLongTraining(outDir);
        await InterruptAfterFirstStepAsync(process, "INT");

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

    /// <summary>
    /// A signal mask survives fork and exec: started from a thread that blocks SIGINT and SIGTERM (as a parent's
    /// native thread may), train must unblock them, or Ctrl+C and a worker's stop request would stay pending for ever.
    /// </summary>
    [Theory]
    [InlineData("INT")]
    [InlineData("TERM")]
    public async Task A_stop_signal_reaches_train_even_when_its_parent_started_it_with_the_signal_blocked(string signal)
    {
        var outDir = Path.Combine(_root, "run-blocked");
        Process process;
        // Process.Start forks on the calling thread, so the child starts with this thread's mask. Kept on one thread
        // from block to restore: nothing here awaits.
        var blocked = new ulong[SigsetWords];
        blocked[0] = (1UL << (SigInt - 1)) | (1UL << (SigTerm - 1));
        var old = new ulong[SigsetWords];
        Assert.Equal(0, PthreadSigmask(SigBlock, blocked, old));
        try
        {
            process = StartLongTraining(outDir);
        }
        finally
        {
            Assert.Equal(0, PthreadSigmask(SigSetMask, old, null));
        }
        using (process)
        {
            await InterruptAfterFirstStepAsync(process, signal);
            using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "summary.json")));
            Assert.Equal("interrupted", summary.RootElement.GetProperty("status").GetString());
        }
    }

    private Process StartLongTraining(string outDir)
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
        // Started as a terminal's foreground job is, with SIGINT at its default: a test host that was itself started in
        // the background by a script (SIGINT ignored, which children inherit and train rightly respects) would
        // otherwise make this test about how it was launched. GNU env resets the disposition before exec.
        var info = new ProcessStartInfo("env") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--default-signal=INT", "dotnet", Path.Combine(AppContext.BaseDirectory, "orchestrator.dll"),
                     "train", "--config", config, "--out", outDir })
            info.ArgumentList.Add(a);
        return Process.Start(info)!;
    }

    /// <summary>
    /// Waits until training is under way (a logged step), sends SIG<paramref name="signal"/> as Ctrl+C or a pod's
    /// stop would, and expects a checkpoint and exit code 130; a failure shows the child's signal state.
    /// </summary>
    private static async Task InterruptAfterFirstStepAsync(Process process, string signal)
    {
        var stderr = process.StandardError.ReadToEndAsync();
        string? line;
        while ((line = process.StandardOutput.ReadLine()) is not null && !line.Contains("] step ", StringComparison.Ordinal))
        {
        }
        Assert.NotNull(line);
        string signals = SignalState(process.Id);
        using (var kill = Process.Start("kill", [$"-{signal}", process.Id.ToString(CultureInfo.InvariantCulture)])!)
        {
            kill.WaitForExit();
            Assert.True(kill.ExitCode == 0, $"kill -{signal} failed");
        }
        var rest = process.StandardOutput.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), $"train did not stop after SIG{signal}; its signal state: {signals} / now {SignalState(process.Id)}");
        Assert.True(process.ExitCode == 130, await rest + await stderr);
    }

    /// <summary>The child's blocked, ignored and pending signal sets (/proc/PID/status), for failure messages.</summary>
    private static string SignalState(int pid)
    {
        try
        {
            return string.Join(", ", File.ReadLines($"/proc/{pid}/status")
                .Where(l => l.StartsWith("SigBlk", StringComparison.Ordinal) || l.StartsWith("SigIgn", StringComparison.Ordinal)
                    || l.StartsWith("ShdPnd", StringComparison.Ordinal)).Select(l => l.Replace('\t', ' ')));
        }
        catch (IOException e)
        {
            return e.Message;
        }
    }

    private const int SigBlock = 0;
    private const int SigSetMask = 2;
    private const int SigInt = 2;
    private const int SigTerm = 15;
    // glibc's sigset_t is 1024 bits; signal s is bit s - 1.
    private const int SigsetWords = 1024 / 64;

    // Returns the error number.
    [DllImport("libc", EntryPoint = "pthread_sigmask")]
    private static extern int PthreadSigmask(int how, ulong[] set, ulong[]? oldSet);
}
