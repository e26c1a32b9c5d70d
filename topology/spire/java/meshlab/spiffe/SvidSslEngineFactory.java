package meshlab.spiffe;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManagerFactory;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.security.auth.SslEngineFactory;

/**
 * TLS from the PEM files spiffe-helper writes (SVID chain, PKCS#8 key, trust bundle), re-read whenever they change.
 *
 * <p>Kafka's default engine factory loads its key store once and re-reads it only on a dynamic config update, and
 * the controller listener and the broker's own client side are awkward to reconfigure that way. SVIDs rotate
 * every half TTL, so this factory checks the files' modification times (one stat per file) on every new
 * connection and builds a new SSLContext when they changed. Established connections keep the context they were
 * made with; TLS has no re-authentication, so a connection outlives the certificate it opened with.
 *
 * <p>Files are written one after another by spiffe-helper: a key that does not match its certificate is a
 * rotation caught half-way, so the old context stays until the next connection looks again.
 *
 * <p>Configured with `spiffe.svid.file`, `spiffe.key.file`, `spiffe.bundle.file` (listener-prefixed on brokers).
 * Server engines always require a client certificate: deny by default.
 */
public final class SvidSslEngineFactory implements SslEngineFactory {
  private static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};
  private static final char[] STORE_PASSWORD = "meshlab".toCharArray();

  private Path svidFile;
  private Path keyFile;
  private Path bundleFile;
  private volatile Loaded current;

  private record Loaded(String stamp, SSLContext context, KeyStore keystore, KeyStore truststore) {}

  @Override
  public void configure(Map<String, ?> configs) {
    svidFile = Path.of(required(configs, "spiffe.svid.file"));
    keyFile = Path.of(required(configs, "spiffe.key.file"));
    bundleFile = Path.of(required(configs, "spiffe.bundle.file"));
    current = loadWaiting();
  }

  /**
   * The first load, retried for a few seconds: spiffe-helper may be half-way through rewriting the files (a key
   * that does not match its certificate yet) when a client or listener is configured.
   */
  private Loaded loadWaiting() {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (true) {
      try {
        return load(stamp());
      } catch (IOException | GeneralSecurityException | RuntimeException e) {
        if (System.nanoTime() > deadline) throw new KafkaException("cannot load the SVID from " + svidFile + ": " + e.getMessage(), e);
      }
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new KafkaException("interrupted while loading the SVID from " + svidFile, e);
      }
    }
  }

  private static String required(Map<String, ?> configs, String key) {
    Object v = configs.get(key);
    if (v == null || String.valueOf(v).isEmpty()) throw new KafkaException("SvidSslEngineFactory needs " + key);
    return String.valueOf(v);
  }

  private String stamp() throws IOException {
    StringBuilder s = new StringBuilder();
    for (Path p : new Path[] {svidFile, keyFile, bundleFile})
      s.append(Files.getLastModifiedTime(p).toMillis()).append('/').append(Files.size(p)).append(';');
    return s.toString();
  }

  private SSLContext context() {
    Loaded l = current;
    try {
      String now = stamp();
      if (!now.equals(l.stamp())) {
        synchronized (this) {
          if (!now.equals(current.stamp())) current = load(now);
          l = current;
        }
      }
    } catch (IOException | GeneralSecurityException | RuntimeException e) {
      // Half-written rotation or a file replaced under us: keep serving the last good SVID.
    }
    return l.context();
  }

  private Loaded load(String stamp) throws IOException, GeneralSecurityException {
    List<X509Certificate> chain = certificates(svidFile);
    List<X509Certificate> bundle = certificates(bundleFile);
    if (chain.isEmpty()) throw new GeneralSecurityException("no certificate in " + svidFile);
    if (bundle.isEmpty()) throw new GeneralSecurityException("no certificate in " + bundleFile);
    PrivateKey key = privateKey(keyFile, chain.get(0));
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    ks.setKeyEntry("svid", key, STORE_PASSWORD, chain.toArray(new Certificate[0]));
    KeyStore ts = KeyStore.getInstance("PKCS12");
    ts.load(null, null);
    for (int i = 0; i < bundle.size(); i++) ts.setCertificateEntry("bundle-" + i, bundle.get(i));
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(ks, STORE_PASSWORD);
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ts);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    return new Loaded(stamp, ctx, ks, ts);
  }

  private static List<X509Certificate> certificates(Path file) throws IOException, GeneralSecurityException {
    CertificateFactory cf = CertificateFactory.getInstance("X.509");
    List<X509Certificate> out = new ArrayList<>();
    for (Certificate c : cf.generateCertificates(new ByteArrayInputStream(Files.readAllBytes(file))))
      out.add((X509Certificate) c);
    return out;
  }

  /** The PKCS#8 key, checked against the leaf by a signature, so a half-rotated pair is never used. */
  private static PrivateKey privateKey(Path file, X509Certificate leaf) throws IOException, GeneralSecurityException {
    String pem = Files.readString(file, StandardCharsets.US_ASCII);
    String body = pem.replaceAll("-----(BEGIN|END) PRIVATE KEY-----", "").replaceAll("\\s", "");
    String algorithm = leaf.getPublicKey().getAlgorithm();
    PrivateKey key = KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(body)));
    String sigAlg = algorithm.equals("EC") ? "SHA256withECDSA" : "SHA256withRSA";
    byte[] probe = "meshlab-key-check".getBytes(StandardCharsets.US_ASCII);
    Signature s = Signature.getInstance(sigAlg);
    s.initSign(key);
    s.update(probe);
    byte[] sig = s.sign();
    Signature v = Signature.getInstance(sigAlg);
    v.initVerify(leaf.getPublicKey());
    v.update(probe);
    if (!v.verify(sig)) throw new GeneralSecurityException("key in " + file + " does not match its certificate (rotation in progress)");
    return key;
  }

  @Override
  public SSLEngine createClientSslEngine(String peerHost, int peerPort, String endpointIdentification) {
    SSLEngine e = context().createSSLEngine(peerHost, peerPort);
    e.setUseClientMode(true);
    SSLParameters p = e.getSSLParameters();
    p.setProtocols(PROTOCOLS);
    if (endpointIdentification != null && !endpointIdentification.isEmpty()) p.setEndpointIdentificationAlgorithm(endpointIdentification);
    e.setSSLParameters(p);
    return e;
  }

  @Override
  public SSLEngine createServerSslEngine(String peerHost, int peerPort) {
    SSLEngine e = context().createSSLEngine(peerHost, peerPort);
    e.setUseClientMode(false);
    SSLParameters p = e.getSSLParameters();
    p.setProtocols(PROTOCOLS);
    p.setNeedClientAuth(true);
    e.setSSLParameters(p);
    return e;
  }

  @Override
  public boolean shouldBeRebuilt(Map<String, Object> nextConfigs) {
    return false;
  }

  @Override
  public Set<String> reconfigurableConfigs() {
    return Set.of();
  }

  @Override
  public KeyStore keystore() {
    return current.keystore();
  }

  @Override
  public KeyStore truststore() {
    return current.truststore();
  }

  @Override
  public void close() {}
}
