namespace Orchestrator.Worker.Evaluation;

/// <summary>Image-GAN quality from the digit classifier: class coverage and mix, and feature-space distances to real data.</summary>
/// <param name="ClassCoverage">Digit classes predicted for at least one generated image (of 10).</param>
/// <param name="ClassKl">KL(p_generated ‖ p_data) of the predicted class histogram, in nats.</param>
/// <param name="FrechetDistance">Fréchet distance between real and generated penultimate features.</param>
/// <param name="Kid">Kernel inception distance (mean unbiased MMD² over subsets) on the same features.</param>
/// <param name="Precision">Fraction of generated images inside the real data's k-NN manifold.</param>
/// <param name="Recall">Fraction of real images inside the generated images' k-NN manifold.</param>
public sealed record ImageReport(int ClassCoverage, double ClassKl, double FrechetDistance, double Kid, double Precision, double Recall);
