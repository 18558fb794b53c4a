using System.CommandLine;
using System.Runtime.InteropServices;
using Orchestrator.Cli;
using Orchestrator.Cli.Commands;

var root = new RootCommand("Orchestrator: distributed GAN training and hyperparameter sweeps for .NET")
{
    TrainCommand.Create(),
    WorkerCommand.Create(),
    UpCommand.Create(),
    CoordinatorCommand.Create(),
};
foreach (var command in RemoteCommands.Create()) root.Subcommands.Add(command);

// The first SIGINT (Ctrl+C) or SIGTERM (a pod being stopped) cancels the command's token: a trainer then
// writes a checkpoint and its summary, however long that takes. A second signal terminates at once.
SignalMask.UnblockStopSignals();
using var stopping = new CancellationTokenSource();
void OnSignal(PosixSignalContext context)
{
    if (stopping.IsCancellationRequested) return;
    context.Cancel = true;
    stopping.Cancel();
}
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

// Redirected output (logs, CI, a parent process) keeps each message on one line instead of wrapping at 80 columns,
// so errors stay greppable.
if (Console.IsOutputRedirected) Spectre.Console.AnsiConsole.Profile.Width = 4096;

var invocation = new InvocationConfiguration { ProcessTerminationTimeout = null };
return await root.Parse(args).InvokeAsync(invocation, stopping.Token);
