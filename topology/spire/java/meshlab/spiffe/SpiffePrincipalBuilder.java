package meshlab.spiffe;

import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLPeerUnverifiedException;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.security.auth.AuthenticationContext;
import org.apache.kafka.common.security.auth.KafkaPrincipal;
import org.apache.kafka.common.security.auth.KafkaPrincipalBuilder;
import org.apache.kafka.common.security.auth.KafkaPrincipalSerde;
import org.apache.kafka.common.security.auth.SslAuthenticationContext;
import org.apache.kafka.common.security.authenticator.DefaultKafkaPrincipalBuilder;

/**
 * Kafka principal = the peer's SPIFFE ID (`User:spiffe://<trust domain>/<path>`). Every SVID has the same subject
 * DN, so `ssl.principal.mapping.rules` (which sees only the DN) cannot tell workloads apart; the identity is in the
 * URI SAN. A peer without an SVID is ANONYMOUS, which the deny-by-default authorizer refuses.
 *
 * <p>It is also the principal serde, because a broker forwards requests to the controller with the principal
 * serialized; the encoding is Kafka's own.
 */
public final class SpiffePrincipalBuilder implements KafkaPrincipalBuilder, KafkaPrincipalSerde {
  private final DefaultKafkaPrincipalBuilder serde = new DefaultKafkaPrincipalBuilder(null, null);

  @Override
  public KafkaPrincipal build(AuthenticationContext context) {
    if (!(context instanceof SslAuthenticationContext ssl)) return KafkaPrincipal.ANONYMOUS;
    try {
      Certificate[] chain = ssl.session().getPeerCertificates();
      if (chain.length > 0 && chain[0] instanceof X509Certificate leaf) {
        String id = SpiffeId.of(leaf);
        if (id != null) return new KafkaPrincipal(KafkaPrincipal.USER_TYPE, id);
      }
    } catch (SSLPeerUnverifiedException e) {
      // No client certificate: falls through to ANONYMOUS.
    }
    return KafkaPrincipal.ANONYMOUS;
  }

  @Override
  public byte[] serialize(KafkaPrincipal principal) throws SerializationException {
    return serde.serialize(principal);
  }

  @Override
  public KafkaPrincipal deserialize(byte[] bytes) throws SerializationException {
    return serde.deserialize(bytes);
  }
}
