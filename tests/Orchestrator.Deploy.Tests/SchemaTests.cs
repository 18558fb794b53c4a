using Orchestrator.Deploy.Tests.Rendering;
using YamlDotNet.RepresentationModel;

namespace Orchestrator.Deploy.Tests;

/// <summary>Every rendered manifest is a valid object of its kind, as the KubernetesClient model defines it.</summary>
[Collection(ManifestsCollection.Name)]
public sealed class SchemaTests(Manifests manifests)
{
    public static TheoryData<string> Renderings => new(Manifests.Names);

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Every_manifest_deserializes_strictly_into_its_typed_object(string name)
    {
        var rendering = manifests[name];
        Assert.NotEmpty(rendering.Resources);
        Assert.Equal(rendering.Resources.Count, rendering.Typed.Count);
        for (var i = 0; i < rendering.Resources.Count; i++)
        {
            var typed = rendering.Typed[i];
            Assert.Equal(rendering.Resources[i].Str("kind"), ((k8s.IKubernetesObject)typed).Kind);
            Assert.StartsWith("k8s.Models.", typed.GetType().FullName);
        }
    }

    [Theory]
    [MemberData(nameof(Renderings))]
    public void No_manifest_has_a_field_its_typed_model_lacks(string name)
    {
        var rendering = manifests[name];
        var errors = new List<string>();
        for (var i = 0; i < rendering.Resources.Count; i++)
        {
            var resource = rendering.Resources[i];
            var label = $"{resource.Str("kind")}/{resource.At("metadata")?.Str("name")}";
            errors.AddRange(TypedModel.UnknownFields(resource, rendering.Typed[i].GetType(), label));
        }
        Assert.Empty(errors);
    }

    [Fact]
    public void The_key_check_reports_a_misplaced_field()
    {
        var yaml = Yaml.LoadDocuments("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: x}
            spec:
              selector: {matchLabels: {a: b}}
              template:
                metadata: {labels: {a: b}}
                spec:
                  containers:
                    - name: c
                      image: i
                      resource: {limits: {cpu: "1"}}
            """, "inline")[0];
        var errors = TypedModel.UnknownFields(yaml, typeof(k8s.Models.V1Deployment), "Deployment/x");
        Assert.Equal(["Deployment/x.spec.template.spec.containers[0].resource: not a field of V1Container"], errors);
    }

    [Fact]
    public void Strict_deserialization_refuses_an_unknown_field()
    {
        const string yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndta: {a: b}\n";
        Assert.ThrowsAny<Exception>(() => k8s.KubernetesYaml.LoadAllFromString(yaml, typeMap: null, strict: true));
    }

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Names_are_unique_per_kind(string name)
    {
        var keys = manifests[name].Resources.Select(r => $"{r.Str("kind")}/{r.At("metadata")?.Str("namespace")}/{r.At("metadata")?.Str("name")}").ToList();
        Assert.Equal(keys.Count, keys.Distinct().Count());
    }

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Everything_namespaced_lives_in_the_orchestrator_namespace(string name)
    {
        var rendering = manifests[name];
        var ns = Assert.Single(rendering.OfKind("Namespace")).At("metadata")!.Str("name");
        Assert.All(rendering.Resources.Where(r => r.Str("kind") != "Namespace"), r => Assert.Equal(ns, r.At("metadata")!.Str("namespace")));
    }
}
