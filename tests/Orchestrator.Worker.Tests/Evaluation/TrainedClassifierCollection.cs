namespace Orchestrator.Worker.Tests.Evaluation;

/// <summary>Tests that share one trained classifier and, being CPU-heavy, run one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class TrainedClassifierCollection : ICollectionFixture<TrainedClassifierFixture>
{
    public const string Name = "Trained digit classifier";
}
