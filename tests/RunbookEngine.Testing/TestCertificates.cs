using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace RunbookEngine.Testing;

/// <summary>
/// A throwaway certificate authority for tests that need real TLS on 127.0.0.1: a CA, a server certificate for
/// 127.0.0.1 it signed, and client certificates it signs. Nothing is installed in any trust store.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    public TestCertificates()
    {
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=runbook-test-ca", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var notBefore = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
        Authority = caRequest.CreateSelfSigned(notBefore, notBefore.AddYears(30));

        Server = Issue("CN=127.0.0.1", serverAuth: true);
    }

    /// <summary>Gets the CA (with its private key).</summary>
    public X509Certificate2 Authority { get; }

    /// <summary>Gets the server certificate for 127.0.0.1 (with its private key).</summary>
    public X509Certificate2 Server { get; }

    /// <summary>Gets the CA certificate in PEM.</summary>
    public string AuthorityPem => Authority.ExportCertificatePem();

    /// <summary>Issues a certificate signed by the CA; a server certificate is for 127.0.0.1 and, if given, one DNS name.</summary>
    public X509Certificate2 Issue(string subject, bool serverAuth, string? dnsName = null)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(serverAuth ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        if (serverAuth)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            if (dnsName is not null)
            {
                san.AddDnsName(dnsName);
            }

            request.CertificateExtensions.Add(san.Build());
        }

        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using var issued = request.Create(Authority, Authority.NotBefore, Authority.NotAfter.AddDays(-1), serial);
        using var withKey = issued.CopyWithPrivateKey(key);

        // Round-trip through PKCS#12 so the key is usable by SslStream on every platform.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>The certificate and its key in PEM, as a kubeconfig's client-certificate-data and client-key-data hold them.</summary>
    public static (string Certificate, string Key) Pem(X509Certificate2 certificate) =>
        (certificate.ExportCertificatePem(), certificate.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());

    public void Dispose()
    {
        Authority.Dispose();
        Server.Dispose();
    }
}
