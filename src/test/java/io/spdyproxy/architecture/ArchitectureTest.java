package io.spdyproxy.architecture;

import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

/**
 * Keeps the package layering of docs/ARCHITECTURE.md: {@code cli → proxy / origin → tunnel →
 * spdy}, where {@code proxy} and {@code origin} see only the tunnel's protocol-neutral stream
 * API ({@code io.spdyproxy.tunnel}), never a tunnel protocol ({@code spdy}, {@code tunnel.spdy},
 * {@code tunnel.h2}): the second tunnel protocol, HTTP/2, is an adapter beside {@code tunnel.spdy}
 * chosen in the handshake, and nothing above the tunnel changed for it.
 */
@AnalyzeClasses(packages = "io.spdyproxy", importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {

    @ArchTest
    static final ArchRule proxyAndOriginSeeNoTunnelProtocol = noClasses()
            .that().resideInAnyPackage("io.spdyproxy.proxy..", "io.spdyproxy.origin..")
            .should().dependOnClassesThat().resideInAnyPackage("io.spdyproxy.spdy..", "io.spdyproxy.tunnel.spdy..",
                    "io.spdyproxy.tunnel.h2..")
            .because("proxy and origin use only the tunnel's stream abstraction (io.spdyproxy.tunnel)");

    @ArchTest
    static final ArchRule tunnelProtocolsKnowNothingOfEachOther = noClasses()
            .that().resideInAPackage("io.spdyproxy.tunnel.h2..")
            .should().dependOnClassesThat().resideInAnyPackage("io.spdyproxy.spdy..", "io.spdyproxy.tunnel.spdy..",
                    "io.spdyproxy.tunnel.handshake..")
            .because("each tunnel protocol is an adapter of its own; only the handshake chooses between them");

    @ArchTest
    static final ArchRule tunnelApiIsProtocolNeutral = noClasses()
            .that().resideInAPackage("io.spdyproxy.tunnel")
            .should().dependOnClassesThat().resideInAnyPackage("io.spdyproxy.spdy..", "io.spdyproxy.tunnel.spdy..",
                    "io.spdyproxy.tunnel.h2..", "io.spdyproxy.tunnel.handshake..")
            .orShould().dependOnClassesThat().resideInAnyPackage("io.spdyproxy.proxy..", "io.spdyproxy.origin..")
            .because("the stream abstraction knows no protocol and no user of it");

    @ArchTest
    static final ArchRule layers = layeredArchitecture().consideringOnlyDependenciesInAnyPackage("io.spdyproxy..")
            .layer("cli").definedBy("io.spdyproxy.cli..")
            .layer("bench").definedBy("io.spdyproxy.bench..")
            .layer("proxy").definedBy("io.spdyproxy.proxy..")
            .layer("origin").definedBy("io.spdyproxy.origin..")
            .layer("example").definedBy("io.spdyproxy.example..")
            .layer("observe").definedBy("io.spdyproxy.observe..")
            .layer("handshake").definedBy("io.spdyproxy.tunnel.handshake..")
            .layer("tunnel.spdy").definedBy("io.spdyproxy.tunnel.spdy..")
            .layer("tunnel.h2").definedBy("io.spdyproxy.tunnel.h2..")
            .layer("tunnel").definedBy("io.spdyproxy.tunnel")
            .layer("spdy.http").definedBy("io.spdyproxy.spdy.http..")
            .layer("spdy").definedBy("io.spdyproxy.spdy")
            .layer("http").definedBy("io.spdyproxy.http..")
            .layer("tls").definedBy("io.spdyproxy.tls..")
            .layer("transport").definedBy("io.spdyproxy.transport..")
            .whereLayer("cli").mayNotBeAccessedByAnyLayer()
            .whereLayer("bench").mayOnlyBeAccessedByLayers("cli")
            .whereLayer("proxy").mayOnlyBeAccessedByLayers("cli", "bench")
            .whereLayer("origin").mayOnlyBeAccessedByLayers("cli", "bench")
            .whereLayer("example").mayOnlyBeAccessedByLayers("cli", "bench")
            .whereLayer("observe").mayOnlyBeAccessedByLayers("cli", "bench", "proxy", "origin")
            .whereLayer("handshake").mayOnlyBeAccessedByLayers("cli", "bench", "proxy", "origin")
            .whereLayer("tunnel.spdy").mayOnlyBeAccessedByLayers("cli", "bench", "handshake")
            .whereLayer("tunnel.h2").mayOnlyBeAccessedByLayers("cli", "bench", "handshake")
            .whereLayer("tunnel").mayOnlyBeAccessedByLayers("cli", "bench", "proxy", "origin", "example", "handshake",
                    "tunnel.spdy", "tunnel.h2", "observe")
            .whereLayer("spdy.http").mayOnlyBeAccessedByLayers("cli", "bench", "tunnel.spdy", "handshake")
            .whereLayer("spdy").mayOnlyBeAccessedByLayers("cli", "bench", "spdy.http", "tunnel.spdy", "handshake");

    @ArchTest
    static final ArchRule noCycles = slices().matching("io.spdyproxy.(**)").should().beFreeOfCycles();
}
