import { installKafkaClasspath, type KafkaInstall } from "../kafka/install.ts";

const here = new URL(".", import.meta.url).pathname;

export type MirrorMakerInstall = KafkaInstall;

/** MirrorMaker 2 (`org.apache.kafka:connect-mirror`, the lab's Kafka version) from Maven Central, in its own lib/ folder. */
export const installMirrorMaker = (): Promise<MirrorMakerInstall> => installKafkaClasspath("mirrormaker", here);
