import { describe, expect, it } from "vitest";
import { debianMirrors, imageName } from "../../topology/containers/image.ts";

describe("the containers backend's image", () => {
  it("is built from this machine's deb822 apt sources, one mmdebstrap mirror line per deb stanza", () => {
    const sources = [
      "Types: deb\n# http://snapshot.debian.org/archive/debian/20250520T000000Z\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg",
      "Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main",
      "Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main contrib",
    ].join("\n\n");
    expect(debianMirrors(sources)).toEqual(["deb http://deb.debian.org/debian bookworm bookworm-updates main", "deb http://deb.debian.org/debian-security bookworm-security main contrib"]);
    expect(debianMirrors("# nothing configured\n")).toEqual([]);
  });

  it("is named locally and tagged by what goes into it, so a changed package list builds a new one", () => {
    expect(imageName()).toMatch(/^localhost\/meshlab-runtime:[0-9a-f]{12}$/);
  });
});
