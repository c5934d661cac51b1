/// <reference lib="webworker" />
import { findNumber, type Challenge } from "./proofOfWork";

self.onmessage = (event: MessageEvent<Challenge>) => {
  try {
    self.postMessage({ number: findNumber(event.data) });
  } catch (error) {
    self.postMessage({ error: error instanceof Error ? error.message : String(error) });
  }
};
