package meshlab.spiffe;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;

/** The SPIFFE ID of an X.509-SVID: its one URI SAN with the spiffe scheme (SPIFFE X509-SVID spec, section 2). */
final class SpiffeId {
  private static final int URI_SAN = 6;

  private SpiffeId() {}

  /** The SPIFFE ID, or null when the certificate carries none (or more than one URI SAN, which no SVID has). */
  static String of(X509Certificate cert) {
    Collection<List<?>> sans;
    try {
      sans = cert.getSubjectAlternativeNames();
    } catch (CertificateParsingException e) {
      return null;
    }
    if (sans == null) return null;
    String found = null;
    for (List<?> san : sans) {
      if (san.size() < 2 || !(san.get(0) instanceof Integer type) || type != URI_SAN) continue;
      if (found != null) return null;
      found = String.valueOf(san.get(1));
    }
    return found != null && found.startsWith("spiffe://") ? found : null;
  }
}
