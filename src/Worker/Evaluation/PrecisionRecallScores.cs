namespace Orchestrator.Worker.Evaluation;

/// <summary>k-NN precision (fidelity of the fakes) and recall (diversity: real data the fakes reach).</summary>
public sealed record PrecisionRecallScores(double Precision, double Recall);
