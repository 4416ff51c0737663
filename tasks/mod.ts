/**
 * Task definitions: the bandit tasks of `tasks/bandits.yaml`, their policy family, reward-model family
 * and preference data; the sentiment task (generated review corpus, gold classifier, π_ref, prompts);
 * the summarization task (generated news items, fact judge, π_ref).
 * Suite files (`tasks/quick.yaml`) live beside them; `text_task_schema.ts` parses a suite's own
 * `text_tasks:` entries.
 *
 * @module
 */
export * from "./bandits.ts";
export * from "./sentiment.ts";
export * from "./sentiment_corpus.ts";
export * from "./summarize.ts";
export * from "./summarize_corpus.ts";
export * from "./text_tasks.ts";
export * from "./datasets.ts";
export * from "./data_tasks.ts";
export * from "./text_task_schema.ts";
