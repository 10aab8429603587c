import assert from 'node:assert/strict';
import { changeRule, DEFAULT_COLUMNS } from '../../rows/columns';
import { changeRuleOf } from '../../rows/columns-file';
import { sameFilters, webhookFilters } from '../../rows/webhook-filters';

describe('webhook filters derived from the columns', () => {
  it('with the five columns: task events, the five actions, and `changed` of the fields they read and of membership', () => {
    const filters = webhookFilters(changeRule());
    assert.deepEqual(
      filters.map((f) => [f.resource_type, f.action]),
      [
        ['task', 'added'],
        ['task', 'changed'],
        ['task', 'removed'],
        ['task', 'deleted'],
        ['task', 'undeleted'],
      ],
    );
    assert.deepEqual(filters[1].fields, [
      'assignee',
      'due_at',
      'due_on',
      'html_notes',
      'memberships',
      'name',
      'notes',
      'projects',
      'resource_subtype',
    ]);
    assert.ok(
      filters.every((f) => f.fields === undefined || f.action === 'changed'),
      'the spec allows fields only on a changed filter',
    );
  });

  it('follows a columns file: a column adds the fields that change it; one of modified_at lets every change through', () => {
    const tags = webhookFilters(changeRuleOf([{ name: 'Tags', type: 'multipleSelects', source: 'tags' }]));
    assert.ok(tags[1].fields?.includes('tags'));
    const client = webhookFilters(changeRuleOf([{ name: 'Client', type: 'singleLineText', source: 'custom_field:Client' }]));
    assert.ok(client[1].fields?.includes('custom_fields'));
    const modified = webhookFilters(changeRuleOf([{ name: 'Modified', type: 'dateTime', source: 'modified_at' }]));
    assert.deepEqual(modified[1], { resource_type: 'task', action: 'changed' });
  });

  it('reads only name and assignee: a change of any other field a column does not read is left out', () => {
    const [, changed] = webhookFilters(changeRule(DEFAULT_COLUMNS.filter((c) => ['Task ID', 'Name', 'Assignee'].includes(c.name))));
    assert.deepEqual(changed.fields, ['assignee', 'memberships', 'name', 'projects', 'resource_subtype']);
  });

  it('compares filter lists as Asana may return them: any order of filters and fields, an empty field list as none', () => {
    const filters = webhookFilters(changeRule());
    const shuffled = [...filters].reverse().map((f) => (f.fields ? { ...f, fields: [...f.fields].reverse() } : f));
    assert.equal(sameFilters(filters, shuffled), true);
    assert.equal(
      sameFilters([{ resource_type: 'task', action: 'changed', fields: [] }], [{ resource_type: 'task', action: 'changed' }]),
      true,
    );
    assert.equal(sameFilters(filters, filters.slice(1)), false);
    assert.equal(sameFilters(filters, webhookFilters(changeRuleOf([{ name: 'Done', type: 'checkbox', source: 'completed' }]))), false);
  });
});
