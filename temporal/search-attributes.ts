/**
 * Search attributes operators filter on in the Web UI and `temporal workflow list --query`. Pure
 * definitions: workflow code sets them too, and the server setup registers them.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const ASANA_TASK_GID = defineSearchAttributeKey('AsanaTaskGid', SearchAttributeType.KEYWORD);
export const ASANA_PROJECT_GID = defineSearchAttributeKey('AsanaProjectGid', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTES = [ASANA_TASK_GID, ASANA_PROJECT_GID];
