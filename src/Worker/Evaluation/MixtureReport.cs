namespace Orchestrator.Worker.Evaluation;

/// <summary>Mode coverage of generated 2-D samples against the generating mixture.</summary>
/// <param name="ModesCovered">Modes holding at least one high-quality sample.</param>
/// <param name="ModeCount">Modes in the mixture.</param>
/// <param name="HighQualityFraction">Fraction of samples within the quality radius of their nearest mode.</param>
/// <param name="PerModeCounts">High-quality samples per mode, indexed like the mixture's means.</param>
public sealed record MixtureReport(int ModesCovered, int ModeCount, double HighQualityFraction, int[] PerModeCounts);
