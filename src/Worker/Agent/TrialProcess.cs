using System.Diagnostics;
using System.Runtime.InteropServices;
using Orchestrator.Worker.Training;

namespace Orchestrator.Worker.Agent;

/// <summary>
/// One trial member running as a child `orchestrator train --events` process: a crash, a native abort or an
/// out-of-memory kill ends that process, never the agent. Its <see cref="TrialEvent"/> lines arrive through
/// <paramref name="onEvent"/> as they are written; other output is kept for the failure message.
/// </summary>
public sealed class TrialProcess : IDisposable
{
    private const int KeptLines = 40;
    private readonly Process _process;
    private readonly Queue<string> _lastLines = new();
    private readonly Action<TrialEvent> _onEvent;
    private readonly TaskCompletionSource _outputDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _errorDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TrialSummary? _summary;

    private TrialProcess(ProcessStartInfo start, Action<TrialEvent> onEvent)
    {
        _onEvent = onEvent;
        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => OnLine(e.Data, _outputDone);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data, _errorDone);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>
    /// Starts <paramref name="command"/> (the `orchestrator` executable, or `dotnet` followed by its dll in
    /// <paramref name="arguments"/>) in <paramref name="workingDirectory"/>.
    /// </summary>
    public static TrialProcess Start(string command, IEnumerable<string> arguments, string workingDirectory, Action<TrialEvent> onEvent,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(command)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        if (environment is not null)
            foreach (var (name, value) in environment) start.Environment[name] = value;
        return new TrialProcess(start, onEvent);
    }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The summary event, once the process has written it.</summary>
    public TrialSummary? Summary => Volatile.Read(ref _summary);

    /// <summary>The last lines the process wrote that were not events (its errors, usually).</summary>
    public string RecentOutput
    {
        get { lock (_lastLines) return string.Join('\n', _lastLines); }
    }

    private void OnLine(string? line, TaskCompletionSource done)
    {
        if (line is null)
        {
            done.TrySetResult();
            return;
        }
        if (TrialEvent.TryParse(line) is { } e)
        {
            if (e.Summary is not null) Volatile.Write(ref _summary, e.Summary);
            _onEvent(e);
            return;
        }
        lock (_lastLines)
        {
            _lastLines.Enqueue(line);
            while (_lastLines.Count > KeptLines) _lastLines.Dequeue();
        }
    }

    /// <summary>Waits for the process to exit and its output to be read to the end; its exit code.</summary>
    public async Task<int> WaitForExitAsync(CancellationToken cancellationToken = default)
    {
        await _process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        await Task.WhenAll(_outputDone.Task, _errorDone.Task).WaitAsync(cancellationToken).ConfigureAwait(false);
        return _process.ExitCode;
    }

    /// <summary>
    /// Asks the trial to stop as Ctrl+C or a pod's SIGTERM would: it checkpoints after its current step and exits.
    /// If it has not exited after <paramref name="grace"/>, it is killed.
    /// </summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_process.HasExited) return;
        if (kill(_process.Id, SIGTERM) != 0) _process.Kill(entireProcessTree: true);
        using var timeout = new CancellationTokenSource(grace);
        try
        {
            await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill();
        }
    }

    /// <summary>Ends the process at once (SIGKILL).</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Exited meanwhile.
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    private const int SIGTERM = 15;

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}
