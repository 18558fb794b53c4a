namespace Orchestrator.Worker.Data;

/// <summary>Where a <see cref="BatchStream"/> is: the epoch and the batch within it that <c>Next</c> returns next.</summary>
public readonly record struct BatchPosition(int Epoch, int Batch);
